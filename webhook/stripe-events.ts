/**
 * What a verified Stripe event means for the voice product: a voice-plan purchase (provision a line), a voice-plan
 * cancellation (mark the church, release nothing), or nothing for us. Pure: no database, no network.
 *
 * Where the facts come from (the Checkout session / subscription is created with this metadata):
 *   - church id:   `metadata.church_id` of the checkout session, the subscription, or (invoice.paid) the
 *                  subscription metadata snapshot `parent.subscription_details.metadata`; for a checkout session
 *                  `client_reference_id` is used when there is no `metadata.church_id`.
 *   - area code:   `metadata.area_code` (3 digits, NPA); optional `metadata.requested_number` (E.164) instead.
 *   - church name: `metadata.church_name` (defaults to the church id on first purchase).
 *   - voice plan:  any item whose price `lookup_key` is in VOICE_PRICE_LOOKUP_KEYS, or whose product id is in
 *                  VOICE_PRODUCT_IDS, or whose price/product metadata has `plan=voice*`, or the event object's own
 *                  (or subscription snapshot) metadata `plan=voice*`. Any voice plan counts.
 * Events read: checkout.session.completed (and .async_payment_succeeded), customer.subscription.created |
 * updated | deleted, invoice.paid, invoice.payment_failed (a subscription past_due or unpaid, or a failed invoice,
 * is a payment problem: registry/subscription-lifecycle.ts decides what it changes). Both the current invoice
 * shape (`parent.subscription_details`, `lines[].pricing.price_details`) and the older one (`subscription`,
 * `subscription_details`, `lines[].price`) are understood, so the endpoint's API version does not matter.
 */

export interface VoicePlanRules {
  /** Stripe price lookup keys of voice plans (VOICE_PRICE_LOOKUP_KEYS). */
  lookupKeys: readonly string[];
  /** Stripe product ids of voice plans (VOICE_PRODUCT_IDS). */
  productIds: readonly string[];
}

/** `plan=voice`, `plan=voice_annual`, `plan=Voice Pro`: any plan named voice-something is a voice plan. */
export const VOICE_PLAN_METADATA = /^voice/i;

export interface StripeEventLike {
  id: string;
  type: string;
  /** When Stripe created the event (Unix seconds): what orders the lifecycle, never the arrival order. */
  created?: number;
  data: { object: unknown };
}

export interface VoicePurchase {
  kind: 'purchase';
  /** As the event carries it (unchecked); absent or malformed, the founder is told instead. */
  churchId?: string;
  areaCode?: string;
  requestedNumber?: string;
  /** The Telnyx reservation that held `requestedNumber` for the pastor (the self-service picker's checkout). */
  numberHold?: string;
  name?: string;
  plan: string;
  stripeCustomerId?: string;
  stripeSubscriptionId?: string;
}

export interface VoiceCancellation {
  kind: 'cancellation';
  stripeSubscriptionId: string;
  churchId?: string;
}

/** A voice plan's payment failed, or its subscription went past_due or unpaid: a grace period starts. */
export interface VoicePaymentTrouble {
  kind: 'payment-trouble';
  stripeSubscriptionId: string;
  churchId?: string;
  /** What Stripe said, for the timeline and the founder: "invoice.payment_failed", "subscription past_due". */
  reason: string;
}

export interface IgnoredEvent {
  kind: 'ignored';
  /** Why, for the log: "not a voice plan", "payment not settled", "event type not handled". */
  reason: string;
}

export type StripeEventDecision = VoicePurchase | VoiceCancellation | VoicePaymentTrouble | IgnoredEvent;

export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.paid',
  'invoice.payment_failed',
] as const;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const asObject = (value: unknown): Json => (isObject(value) ? value : {});
const asString = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
/** An expandable field is an id or the expanded object with an id. */
const idOf = (value: unknown): string | undefined => asString(value) ?? asString(asObject(value).id);
const listData = (value: unknown): Json[] => {
  const data = asObject(value).data;
  return Array.isArray(data) ? data.filter(isObject) : [];
};

/** A price (or a line's price details) as far as voice detection needs it. */
interface PriceFacts {
  lookupKey?: string;
  productId?: string;
  priceMetadata: Json;
  productMetadata: Json;
}

function priceFacts(price: unknown, productFallback?: unknown): PriceFacts {
  const p = asObject(price);
  const product = p.product ?? productFallback;
  return {
    lookupKey: asString(p.lookup_key),
    productId: idOf(product),
    priceMetadata: asObject(p.metadata),
    productMetadata: asObject(asObject(product).metadata),
  };
}

function subscriptionPrices(subscription: Json): PriceFacts[] {
  return listData(subscription.items).map((item) => priceFacts(item.price ?? item.plan));
}

function invoicePrices(invoice: Json): PriceFacts[] {
  return listData(invoice.lines).map((line) => {
    const details = asObject(asObject(line.pricing).price_details);
    if (Object.keys(details).length > 0) return priceFacts(details.price, details.product);
    return priceFacts(line.price ?? line.plan);
  });
}

/** The voice plan's name for churches.plan, or undefined when nothing marks the purchase as a voice plan. */
function voicePlan(rules: VoicePlanRules, prices: PriceFacts[], metadatas: Json[]): string | undefined {
  for (const metadata of metadatas) {
    const plan = asString(metadata.plan);
    if (plan && VOICE_PLAN_METADATA.test(plan)) return plan;
  }
  for (const price of prices) {
    if (price.lookupKey && rules.lookupKeys.includes(price.lookupKey)) return price.lookupKey;
    if (price.productId && rules.productIds.includes(price.productId)) return price.lookupKey ?? price.productId;
    for (const metadata of [price.priceMetadata, price.productMetadata]) {
      const plan = asString(metadata.plan);
      if (plan && VOICE_PLAN_METADATA.test(plan)) return plan;
    }
  }
  return undefined;
}

function purchase(
  plan: string,
  metadata: Json,
  extra: { churchId?: string; customer?: unknown; subscription?: unknown },
): VoicePurchase {
  return {
    kind: 'purchase',
    churchId: asString(metadata.church_id) ?? extra.churchId,
    areaCode: asString(metadata.area_code),
    requestedNumber: asString(metadata.requested_number),
    numberHold: asString(metadata.number_hold),
    name: asString(metadata.church_name),
    plan,
    stripeCustomerId: idOf(extra.customer),
    stripeSubscriptionId: idOf(extra.subscription),
  };
}

const notVoice: IgnoredEvent = { kind: 'ignored', reason: 'not a voice plan' };

/** Subscription statuses of a payment that failed: the grace period runs, the line keeps working. */
const PAYMENT_TROUBLE_STATUSES = new Set(['past_due', 'unpaid']);

/** Subscription statuses in which the customer has paid (or is trialing): the line should exist. */
const PROVISIONED_SUBSCRIPTION_STATUSES = new Set(['active', 'trialing']);

function decideSubscription(type: string, subscription: Json, rules: VoicePlanRules): StripeEventDecision {
  const metadata = asObject(subscription.metadata);
  const plan = voicePlan(rules, subscriptionPrices(subscription), [metadata]);
  if (!plan) return notVoice;
  const subscriptionId = asString(subscription.id);
  const status = asString(subscription.status) ?? '';
  if (type === 'customer.subscription.deleted' || status === 'canceled') {
    if (!subscriptionId) return { kind: 'ignored', reason: 'cancellation without a subscription id' };
    return { kind: 'cancellation', stripeSubscriptionId: subscriptionId, churchId: asString(metadata.church_id) };
  }
  if (PAYMENT_TROUBLE_STATUSES.has(status)) {
    if (!subscriptionId) return { kind: 'ignored', reason: `subscription ${status} without a subscription id` };
    return {
      kind: 'payment-trouble',
      stripeSubscriptionId: subscriptionId,
      churchId: asString(metadata.church_id),
      reason: `subscription ${status}`,
    };
  }
  if (!PROVISIONED_SUBSCRIPTION_STATUSES.has(status)) {
    return { kind: 'ignored', reason: `subscription status ${status || 'missing'}: payment not settled` };
  }
  return purchase(plan, metadata, { customer: subscription.customer, subscription: subscriptionId });
}

function decideCheckoutSession(session: Json, rules: VoicePlanRules): StripeEventDecision {
  const metadata = asObject(session.metadata);
  // Line items are only present when the session was expanded; subscription.created carries them otherwise.
  const prices = listData(session.line_items).map((item) => priceFacts(item.price));
  const plan = voicePlan(rules, prices, [metadata]);
  if (!plan) return notVoice;
  const paymentStatus = asString(session.payment_status);
  if (paymentStatus !== 'paid' && paymentStatus !== 'no_payment_required') {
    return { kind: 'ignored', reason: `checkout payment_status ${paymentStatus ?? 'missing'}: payment not settled` };
  }
  return purchase(plan, metadata, {
    churchId: asString(session.client_reference_id),
    customer: session.customer,
    subscription: session.subscription,
  });
}

function decideInvoice(invoice: Json, rules: VoicePlanRules, paid = true): StripeEventDecision {
  const parentDetails = asObject(asObject(invoice.parent).subscription_details);
  const legacyDetails = asObject(invoice.subscription_details);
  const subscriptionMetadata = asObject(parentDetails.metadata ?? legacyDetails.metadata);
  const metadata = { ...asObject(invoice.metadata), ...subscriptionMetadata };
  const plan = voicePlan(rules, invoicePrices(invoice), [subscriptionMetadata, asObject(invoice.metadata)]);
  if (!plan) return notVoice;
  const subscription = parentDetails.subscription ?? invoice.subscription;
  if (!paid) {
    const subscriptionId = idOf(subscription);
    if (!subscriptionId) return { kind: 'ignored', reason: 'failed invoice without a subscription' };
    const churchId = asString(metadata.church_id);
    return {
      kind: 'payment-trouble',
      stripeSubscriptionId: subscriptionId,
      churchId,
      reason: 'invoice.payment_failed',
    };
  }
  return purchase(plan, metadata, { customer: invoice.customer, subscription });
}

export function decideStripeEvent(event: StripeEventLike, rules: VoicePlanRules): StripeEventDecision {
  const object = asObject(event.data?.object);
  switch (event.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
      return decideCheckoutSession(object, rules);
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
      return decideSubscription(event.type, object, rules);
    case 'invoice.paid':
      return decideInvoice(object, rules);
    case 'invoice.payment_failed':
      return decideInvoice(object, rules, false);
    default:
      return { kind: 'ignored', reason: `event type ${event.type} is not handled` };
  }
}

/** When Stripe created the event; events without the field (hand-made ones) count as created now. */
export function eventCreatedAt(event: StripeEventLike): Date {
  return typeof event.created === 'number' && Number.isFinite(event.created)
    ? new Date(event.created * 1000)
    : new Date();
}
