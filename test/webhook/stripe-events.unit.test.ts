/**
 * Which Stripe events are voice-plan purchases or cancellations, and where the church id and area code come
 * from. Pure decisions on event payloads shaped as Stripe sends them; no network, no database.
 */
import { decideStripeEvent, type VoicePlanRules } from '../../webhook/stripe-events';
import { checkoutCompletedEvent, invoicePaidEvent, subscriptionEvent } from '../support/stripe-events';

const rules: VoicePlanRules = { lookupKeys: ['voice_monthly', 'voice_annual'], productIds: ['prod_Voice'] };

describe('voice plan recognition', () => {
  it('by price lookup key', () => {
    const event = subscriptionEvent({
      subscriptionId: 'sub_1',
      churchId: 'grace',
      areaCode: '414',
      lookupKey: 'voice_annual',
    });
    expect(decideStripeEvent(event, rules)).toMatchObject({
      kind: 'purchase',
      plan: 'voice_annual',
      churchId: 'grace',
      areaCode: '414',
    });
  });

  it('by product id (a price without lookup key)', () => {
    const event = subscriptionEvent({
      subscriptionId: 'sub_1',
      churchId: 'grace',
      areaCode: '414',
      lookupKey: null,
      productId: 'prod_Voice',
    });
    expect(decideStripeEvent(event, rules)).toMatchObject({ kind: 'purchase', plan: 'prod_Voice' });
  });

  it('by metadata plan=voice* on the subscription, or on the price', () => {
    const onSubscription = subscriptionEvent({
      subscriptionId: 'sub_1',
      churchId: 'g',
      areaCode: '414',
      lookupKey: 'other',
      metadata: { plan: 'Voice Pro' },
    });
    expect(decideStripeEvent(onSubscription, rules)).toMatchObject({ kind: 'purchase', plan: 'Voice Pro' });
    const onPrice = subscriptionEvent({ subscriptionId: 'sub_1', churchId: 'g', areaCode: '414', lookupKey: 'other' });
    onPrice.data.object.items.data[0].price.metadata = { plan: 'voice_starter' };
    expect(decideStripeEvent(onPrice, rules)).toMatchObject({ kind: 'purchase', plan: 'voice_starter' });
  });

  it('anything else is not a voice plan', () => {
    const website = subscriptionEvent({
      subscriptionId: 'sub_1',
      churchId: 'g',
      areaCode: '414',
      lookupKey: 'website_pro',
      metadata: { plan: 'website' },
    });
    expect(decideStripeEvent(website, rules)).toEqual({ kind: 'ignored', reason: 'not a voice plan' });
    const checkout = checkoutCompletedEvent({
      clientReferenceId: 'g',
      subscriptionId: 'sub_1',
      metadata: { area_code: '414' },
    });
    expect(decideStripeEvent(checkout, rules)).toEqual({ kind: 'ignored', reason: 'not a voice plan' });
  });

  it('unhandled event types are ignored', () => {
    expect(decideStripeEvent({ id: 'evt', type: 'charge.succeeded', data: { object: {} } }, rules)).toMatchObject({
      kind: 'ignored',
    });
  });
});

describe('where the church comes from', () => {
  it('checkout: metadata.church_id first, client_reference_id otherwise', () => {
    const both = checkoutCompletedEvent({
      clientReferenceId: 'from-ref',
      subscriptionId: 'sub_9',
      metadata: { plan: 'voice', church_id: 'from-meta', area_code: '312' },
    });
    expect(decideStripeEvent(both, rules)).toMatchObject({
      kind: 'purchase',
      churchId: 'from-meta',
      areaCode: '312',
      stripeSubscriptionId: 'sub_9',
    });
    const refOnly = checkoutCompletedEvent({
      clientReferenceId: 'from-ref',
      subscriptionId: 'sub_9',
      metadata: { plan: 'voice', area_code: '312' },
    });
    expect(decideStripeEvent(refOnly, rules)).toMatchObject({ churchId: 'from-ref' });
  });

  it('a checkout whose payment is not settled is not provisioned yet', () => {
    const unpaid = checkoutCompletedEvent({
      clientReferenceId: 'g',
      subscriptionId: 'sub_9',
      paymentStatus: 'unpaid',
      metadata: { plan: 'voice', area_code: '312' },
    });
    expect(decideStripeEvent(unpaid, rules)).toMatchObject({
      kind: 'ignored',
      reason: expect.stringMatching(/not settled/),
    });
  });

  it('invoice.paid: the subscription metadata snapshot (current API) and the older top-level fields', () => {
    const current = invoicePaidEvent({
      subscriptionId: 'sub_5',
      productId: 'prod_Voice',
      metadata: { church_id: 'inv', area_code: '469' },
    });
    expect(decideStripeEvent(current, rules)).toMatchObject({
      kind: 'purchase',
      churchId: 'inv',
      areaCode: '469',
      stripeSubscriptionId: 'sub_5',
    });
    const legacy = {
      id: 'evt_legacy',
      type: 'invoice.paid',
      data: {
        object: {
          customer: 'cus_1',
          subscription: 'sub_6',
          subscription_details: { metadata: { church_id: 'old', area_code: '214' } },
          lines: { data: [{ price: { lookup_key: 'voice_monthly', product: 'prod_X' } }] },
        },
      },
    };
    expect(decideStripeEvent(legacy, rules)).toMatchObject({
      kind: 'purchase',
      churchId: 'old',
      areaCode: '214',
      stripeSubscriptionId: 'sub_6',
      plan: 'voice_monthly',
    });
  });
});

describe('subscription lifecycle', () => {
  it('deleted (or status canceled) is a cancellation of that subscription', () => {
    const deleted = subscriptionEvent({
      type: 'customer.subscription.deleted',
      subscriptionId: 'sub_7',
      churchId: 'bye',
      status: 'canceled',
    });
    expect(decideStripeEvent(deleted, rules)).toEqual({
      kind: 'cancellation',
      stripeSubscriptionId: 'sub_7',
      churchId: 'bye',
    });
    const updated = subscriptionEvent({
      type: 'customer.subscription.updated',
      subscriptionId: 'sub_7',
      churchId: 'bye',
      status: 'canceled',
    });
    expect(decideStripeEvent(updated, rules)).toMatchObject({ kind: 'cancellation' });
  });

  it('the deletion of a non-voice subscription is not ours', () => {
    const deleted = subscriptionEvent({
      type: 'customer.subscription.deleted',
      subscriptionId: 'sub_8',
      churchId: 'web',
      lookupKey: 'website_pro',
    });
    expect(decideStripeEvent(deleted, rules)).toMatchObject({ kind: 'ignored' });
  });

  it.each(['incomplete', 'paused'])('status %s is not provisioned', (status) => {
    expect(
      decideStripeEvent(subscriptionEvent({ subscriptionId: 'sub_1', churchId: 'g', areaCode: '414', status }), rules),
    ).toMatchObject({ kind: 'ignored' });
  });

  it.each(['past_due', 'unpaid'])('status %s is a payment problem (grace period), not a purchase', (status) => {
    expect(
      decideStripeEvent(subscriptionEvent({ subscriptionId: 'sub_1', churchId: 'g', areaCode: '414', status }), rules),
    ).toEqual({
      kind: 'payment-trouble',
      stripeSubscriptionId: 'sub_1',
      churchId: 'g',
      reason: `subscription ${status}`,
    });
  });

  it('a failed invoice of a voice plan is a payment problem of its subscription', () => {
    const failed = invoicePaidEvent({
      type: 'invoice.payment_failed',
      subscriptionId: 'sub_9',
      metadata: { church_id: 'g', plan: 'voice' },
      productId: 'prod_x',
    });
    expect(decideStripeEvent(failed, rules)).toEqual({
      kind: 'payment-trouble',
      stripeSubscriptionId: 'sub_9',
      churchId: 'g',
      reason: 'invoice.payment_failed',
    });
  });

  it('trialing is provisioned', () => {
    expect(
      decideStripeEvent(
        subscriptionEvent({ subscriptionId: 'sub_1', churchId: 'g', areaCode: '414', status: 'trialing' }),
        rules,
      ),
    ).toMatchObject({ kind: 'purchase' });
  });
});
