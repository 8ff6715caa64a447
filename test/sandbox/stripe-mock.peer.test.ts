/**
 * The sandbox's Stripe API: stripe-mock on loopback answers the real stripe SDK, so the Checkout Session a pastor
 * is sent to can be created in tests exactly as the service will create it.
 */
import Stripe from 'stripe';
import { SANDBOX_PORTS } from '../../sandbox/ports';
import { ensureStripeMock, sandboxStripeMock, stripeSdkEndpoint } from '../../sandbox/stripe-mock';

describe('sandbox stripe-mock', () => {
  it('listens on loopback at the sandbox port', async () => {
    const connection = await ensureStripeMock();
    expect(connection).toEqual(sandboxStripeMock());
    expect(connection.url).toBe(`http://127.0.0.1:${SANDBOX_PORTS.stripeMock}`);
    expect(stripeSdkEndpoint(connection.url)).toEqual({
      host: '127.0.0.1',
      port: SANDBOX_PORTS.stripeMock,
      protocol: 'http',
    });
  });

  it('creates a Checkout Session through the stripe SDK with the church and the held number', async () => {
    const connection = await ensureStripeMock();
    const stripe = new Stripe(connection.apiKey, { ...stripeSdkEndpoint(connection.url), maxNetworkRetries: 0 });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      line_items: [{ price: 'price_voice_monthly', quantity: 1 }],
      success_url: 'http://127.0.0.1:8787/churches/new-hope-austin/line?session={CHECKOUT_SESSION_ID}',
      cancel_url: 'http://127.0.0.1:8787/churches/new-hope-austin/pick',
      client_reference_id: 'new-hope-austin',
      metadata: { church_id: 'new-hope-austin', phone_number: '+15125550100', plan: 'voice' },
    });
    expect(session.object).toBe('checkout.session');
    expect(session.id).toMatch(/^cs_/);
    // stripe-mock copies the scalar parameters it was sent into its fixture, as Stripe returns the session it made;
    // maps such as metadata it only checks against the spec (it keeps no state), so they come back as the fixture's.
    expect(session.client_reference_id).toBe('new-hope-austin');
    expect(session.metadata).toEqual(expect.any(Object));
  });

  it("refuses what Stripe refuses: a live key, and a request its spec doesn't allow", async () => {
    const { url } = await ensureStripeMock();
    const live = new Stripe('sk_live_notsandbox', { ...stripeSdkEndpoint(url), maxNetworkRetries: 0 });
    await expect(live.checkout.sessions.list({ limit: 1 })).rejects.toMatchObject({ statusCode: 401 });
    const stripe = new Stripe(sandboxStripeMock().apiKey, { ...stripeSdkEndpoint(url), maxNetworkRetries: 0 });
    await expect(
      stripe.checkout.sessions.create({
        mode: 'subscription',
        success_url: 'http://127.0.0.1:8787/done',
        client_reference_id: 'new-hope-austin',
        // @ts-expect-error: not a Checkout Session parameter; stripe-mock checks the body against Stripe's spec
        phone_number_to_hold: '+15125550100',
      }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });
});
