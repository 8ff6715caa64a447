/**
 * The operations the stand-in serves, keyed by the spec's operationId: each takes the request already matched to
 * its operation and checked against the spec (path params, typed query, body) and returns status and body.
 */
import type { CallControl, DialInput } from './calls';
import type {
  CreateOrderInput,
  CreateReservationInput,
  FqdnFilter,
  NumberOrderFilter,
  NumberOrderRecord,
  NumberReservationFilter,
  PhoneNumberFilter,
  PhoneNumberRecord,
  TelnyxState,
  TexmlApplicationFilter,
  TexmlApplicationSeed,
  UpdatePhoneNumberInput,
} from './state';
import { unprocessable } from './errors';
import { renderAvailableNumber } from './inventory';

export interface OperationRequest {
  pathParams: Record<string, string>;
  /** Parsed and typed by the spec: `{ filter: {...}, page: { number, size } }`. */
  query: Record<string, unknown>;
  body: unknown;
}

export interface OperationResponse {
  status: number;
  body: unknown;
}

export type OperationHandler = (request: OperationRequest) => OperationResponse | Promise<OperationResponse>;

interface PageQuery {
  number?: number;
  size?: number;
}

/** One page of a list, with the `meta` Telnyx's flat pagination returns. */
function paginate<T>(
  items: T[],
  page: PageQuery | undefined,
  defaultSize: number,
): { data: T[]; meta: Record<string, number> } {
  const size = page?.size ?? defaultSize;
  const number = page?.number ?? 1;
  return {
    data: items.slice((number - 1) * size, number * size),
    meta: {
      total_results: items.length,
      total_pages: Math.max(1, Math.ceil(items.length / size)),
      page_number: number,
      page_size: size,
    },
  };
}

function filterOf<T>(query: Record<string, unknown>): T {
  return (query.filter ?? {}) as T;
}

function withoutNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null));
}

const ok = (body: unknown): OperationResponse => ({ status: 200, body });

export function telnyxOperations(state: TelnyxState, calls: CallControl): Record<string, OperationHandler> {
  const renderPhoneNumber = (record: PhoneNumberRecord) => ({
    ...record,
    connection_name: state.connectionName(record.connection_id),
  });

  const renderOrder = (order: NumberOrderRecord) => {
    const { phoneNumberIds: _ids, polls: _polls, ...visible } = order;
    return { ...visible, phone_numbers_count: order.phone_numbers.length };
  };

  return {
    ListAvailablePhoneNumbers: ({ query }) => {
      const filter = filterOf<{
        country_code?: string;
        national_destination_code?: string;
        phone_number_type?: string;
        features?: string[];
        limit?: number;
        best_effort?: boolean;
        locality?: string;
        administrative_area?: string;
        exclude_held_numbers?: boolean;
        phone_number?: { starts_with?: string; ends_with?: string; contains?: string };
      }>(query);
      const hits = state.inventory.search({
        countryCode: filter.country_code,
        areaCode: filter.national_destination_code,
        phoneNumberType: filter.phone_number_type,
        features: filter.features,
        limit: filter.limit,
        bestEffort: filter.best_effort,
        startsWith: filter.phone_number?.starts_with,
        endsWith: filter.phone_number?.ends_with,
        contains: filter.phone_number?.contains,
        locality: filter.locality,
        administrativeArea: filter.administrative_area,
        // Every hold is this account's: listed unless the search asks to leave them out, as the spec has it.
        excludeHeld: filter.exclude_held_numbers ? (phoneNumber) => state.holdOf(phoneNumber) !== undefined : undefined,
      });
      const meta = { total_results: hits.length, best_effort_results: hits.filter((h) => h.bestEffort).length };
      return ok({ data: hits.map(renderAvailableNumber), meta, metadata: meta });
    },

    CreateNumberOrder: ({ body }) => ok({ data: renderOrder(state.createNumberOrder(body as CreateOrderInput)) }),

    RetrieveNumberOrder: ({ pathParams }) =>
      ok({ data: renderOrder(state.pollNumberOrder(pathParams.number_order_id)) }),

    ListNumberOrders: ({ query }) => {
      const page = paginate(state.listNumberOrders(filterOf<NumberOrderFilter>(query)), query.page as PageQuery, 20);
      return ok({ data: page.data.map(renderOrder), meta: page.meta });
    },

    CreateNumberReservation: ({ body }) => ok({ data: state.createNumberReservation(body as CreateReservationInput) }),

    RetrieveNumberReservation: ({ pathParams }) =>
      ok({ data: state.getNumberReservation(pathParams.number_reservation_id) }),

    ExtendNumberReservationExpiryTime: ({ pathParams }) =>
      ok({ data: state.extendNumberReservation(pathParams.number_reservation_id) }),

    ListNumberReservations: ({ query }) =>
      ok(paginate(state.listNumberReservations(filterOf<NumberReservationFilter>(query)), query.page as PageQuery, 20)),

    ListPhoneNumbers: ({ query }) => {
      const page = paginate(state.listPhoneNumbers(filterOf<PhoneNumberFilter>(query)), query.page as PageQuery, 20);
      return ok({ data: page.data.map(renderPhoneNumber), meta: page.meta });
    },

    RetrievePhoneNumber: ({ pathParams }) => ok({ data: renderPhoneNumber(state.getPhoneNumber(pathParams.id)) }),

    UpdatePhoneNumber: ({ pathParams, body }) =>
      ok({ data: renderPhoneNumber(state.updatePhoneNumber(pathParams.id, body as UpdatePhoneNumberInput)) }),

    // The deleted record's schema has no nullable fields: unset values are left out rather than sent as null.
    DeletePhoneNumber: ({ pathParams }) =>
      ok({
        data: withoutNulls(
          renderPhoneNumber(state.deletePhoneNumber(pathParams.id)) as unknown as Record<string, unknown>,
        ),
      }),

    RetrieveFqdnConnection: ({ pathParams }) => ok({ data: state.getFqdnConnection(pathParams.id) }),

    UpdateFqdnConnection: ({ pathParams, body }) =>
      ok({ data: state.updateFqdnConnection(pathParams.id, body as Record<string, unknown>) }),

    ListFqdns: ({ query }) => {
      const page = paginate(state.listFqdns(filterOf<FqdnFilter>(query)), query.page as PageQuery, 250);
      return ok(page);
    },

    // A created application answers 201, as the spec has it; the id is always the account's choice.
    CreateTexmlApplication: ({ body }) => {
      const input = body as TexmlApplicationSeed;
      if (input.friendly_name.trim() === '')
        throw unprocessable('/friendly_name', 'friendly_name must not be blank', 'Invalid parameter');
      return { status: 201, body: { data: state.addTexmlApplication({ ...input, id: undefined }) } };
    },

    GetTexmlApplication: ({ pathParams }) => ok({ data: state.getTexmlApplication(pathParams.id) }),

    FindTexmlApplications: ({ query }) => {
      const found = state.listTexmlApplications(
        filterOf<TexmlApplicationFilter>(query),
        query.sort as string | undefined,
      );
      return ok(paginate(found, query.page as PageQuery, 250));
    },

    DialCall: ({ body }) => ok({ data: calls.render(calls.dial(body as DialInput)) }),

    RetrieveCallStatus: ({ pathParams }) => ok({ data: calls.render(calls.get(pathParams.call_control_id)) }),

    HangupCall: async ({ pathParams, body }) => {
      await calls.hangup(pathParams.call_control_id, (body as { client_state?: string } | undefined)?.client_state);
      return ok({ data: { result: 'ok' } });
    },
  };
}
