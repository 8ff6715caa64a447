/**
 * A church_voice_agents row: the record the voice agent's resolve_route() looks the called number up in, so it
 * decides which church answers. The row is written through Supabase's REST API (vendors/supabase-client.ts).
 *
 * The row is a church's line in production routing: it is removed only with `decommission: true`, recorded in
 * the state by an update before the delete runs, never as a side effect of a rename or a refactor.
 */
import * as pulumi from '@pulumi/pulumi';
import { projectProvider } from './dynamic-provider';
import { checkE164, type RuleFailure } from '../common/phone-numbers';
import { configureFromStack, supabaseSettings } from '../vendors/vendor-settings';
import {
  changedInputs,
  containsUnknown,
  unknownInputFailures,
  type FieldKind,
  type ResourceArgs,
} from './resource-inputs';
import { accountKey, readThroughList } from './shared-reads';
import {
  CHURCH_VOICE_AGENTS_TABLE,
  CHURCH_VOICE_AGENT_STATUSES,
  SupabaseVendorClient,
  VOICE_PROVIDERS,
  type ChurchVoiceAgentRecord,
  type ChurchVoiceAgentStatus,
  type ChurchVoiceAgentWrite,
  type VoiceProvider,
} from '../vendors/supabase-client';
import { VendorError } from '../vendors/vendor-request';
import { AdoptionMismatchError, NotDecommissionedError, NothingToAdoptError, NumberInUseError } from './refusals';
import { changedByHand, formatValue, resourceKind } from './resource-kind';

export interface ChurchVoiceAgentRowInputs {
  /** The church's id (its registry key), e.g. a UUID; the row's primary key. */
  churchId: string;
  /** The church's number in E.164 (column twilio_phone_number, which holds Telnyx numbers too). */
  phoneNumber: string;
  provider: VoiceProvider;
  /** The LiveKit SIP inbound trunk (ST_...) that receives calls to the number. */
  livekitTrunkId?: string;
  /** The LiveKit dispatch rule (SDR_...) that sends those calls to the agent. */
  dispatchRuleId?: string;
  /** Defaults to 'active'. */
  status?: ChurchVoiceAgentStatus;
  /** The founder asked to take the line out of service: only then may the row be deleted. */
  decommission?: boolean;
  /** Adopt the existing row of this church (must equal churchId): create checks it and writes nothing. */
  adoptId?: string;
}

/** The live row, every column, plus the inputs that live only in the state. */
export interface ChurchVoiceAgentRowOutputs extends ChurchVoiceAgentRowInputs {
  status: ChurchVoiceAgentStatus;
  decommission: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The church id alphabet the table enforces (also the key of the church's other resources). */
export const CHURCH_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const TRUNK_ID_PATTERN = /^ST_[A-Za-z0-9]+$/;
const DISPATCH_RULE_ID_PATTERN = /^SDR_[A-Za-z0-9]+$/;

/** Inputs and how each is compared. */
export const ROW_FIELDS: Record<keyof ChurchVoiceAgentRowInputs, FieldKind> = {
  churchId: 'value',
  phoneNumber: 'value',
  provider: 'value',
  livekitTrunkId: 'value',
  dispatchRuleId: 'value',
  status: 'value',
  decommission: 'flag',
  adoptId: 'value',
};

/** Inputs stored in the row; the others (decommission, adoptId) are recorded in the state only. */
const ROW_COLUMNS: (keyof ChurchVoiceAgentRowInputs)[] = [
  'churchId',
  'phoneNumber',
  'provider',
  'livekitTrunkId',
  'dispatchRuleId',
  'status',
];

type Check = (property: string, value: unknown) => RuleFailure | undefined;

const requiredString: Check = (property, value) =>
  typeof value === 'string'
    ? undefined
    : { property, reason: `${property} is required and must be a string, got ${JSON.stringify(value)}` };

function matching(pattern: RegExp, rule: string): Check {
  return (property, value) =>
    typeof value === 'string' && pattern.test(value)
      ? undefined
      : { property, reason: `${property} must be ${rule} (${pattern}), got ${JSON.stringify(value)}` };
}

function oneOf(values: readonly string[]): Check {
  return (property, value) =>
    typeof value === 'string' && values.includes(value)
      ? undefined
      : { property, reason: `${property} must be one of ${values.join(', ')}, got ${JSON.stringify(value)}` };
}

const boolean: Check = (property, value) =>
  typeof value === 'boolean'
    ? undefined
    : { property, reason: `${property} must be true or false, got ${JSON.stringify(value)}` };

/** Each input's rule; optional inputs are checked only when given. Unknown (preview) values are checked later. */
const INPUT_RULES: Record<keyof ChurchVoiceAgentRowInputs, { required: boolean; checks: Check[] }> = {
  churchId: {
    required: true,
    checks: [
      requiredString,
      matching(CHURCH_ID_PATTERN, '1-64 letters, digits, "_" or "-", starting with a letter or digit'),
    ],
  },
  phoneNumber: { required: true, checks: [requiredString, checkE164] },
  provider: { required: true, checks: [oneOf(VOICE_PROVIDERS)] },
  livekitTrunkId: {
    required: false,
    checks: [matching(TRUNK_ID_PATTERN, 'a LiveKit SIP trunk id like ST_LWgmiBSwTk7P')],
  },
  dispatchRuleId: {
    required: false,
    checks: [matching(DISPATCH_RULE_ID_PATTERN, 'a LiveKit dispatch rule id like SDR_8zU3mLqP2x')],
  },
  status: { required: false, checks: [oneOf(CHURCH_VOICE_AGENT_STATUSES)] },
  decommission: { required: false, checks: [boolean] },
  adoptId: { required: false, checks: [requiredString] },
};

export function checkChurchVoiceAgentRow(
  _olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.CheckResult<ChurchVoiceAgentRowInputs> {
  const failures: RuleFailure[] = unknownInputFailures(news, Object.keys(ROW_FIELDS));
  for (const [property, rule] of Object.entries(INPUT_RULES)) {
    const value = news[property];
    if (value === undefined || value === null) {
      if (rule.required) failures.push({ property, reason: `${property} is required` });
      continue;
    }
    if (containsUnknown(value)) continue;
    const failure = rule.checks.map((check) => check(property, value)).find((f) => f !== undefined);
    if (failure) failures.push(failure);
  }
  if (
    typeof news.adoptId === 'string' &&
    !containsUnknown(news.adoptId) &&
    !containsUnknown(news.churchId) &&
    news.adoptId !== news.churchId
  ) {
    failures.push({
      property: 'adoptId',
      reason:
        `adoptId names the church whose existing row is adopted, so it must equal churchId ` +
        `(${JSON.stringify(news.churchId)}), got ${JSON.stringify(news.adoptId)}`,
    });
  }
  const inputs: ChurchVoiceAgentRowInputs = {
    churchId: news.churchId,
    phoneNumber: news.phoneNumber,
    provider: news.provider,
    livekitTrunkId: news.livekitTrunkId ?? undefined,
    dispatchRuleId: news.dispatchRuleId ?? undefined,
    status: news.status ?? 'active',
    decommission: news.decommission ?? false,
    adoptId: news.adoptId ?? undefined,
  };
  for (const key of Object.keys(inputs) as (keyof ChurchVoiceAgentRowInputs)[]) {
    if (inputs[key] === undefined) delete inputs[key];
  }
  return { inputs, failures };
}

/** Outputs the database keeps for itself: a row restored by hand with the same content is not drift. */
export const ROW_BOOKKEEPING_OUTPUTS = ['createdAt', 'updatedAt'] as const;

/** Row columns whose wanted value differs from the recorded one (what a write would change). */
export function rowChanges(olds: Record<string, any>, news: Record<string, any>): string[] {
  return changedInputs(ROW_FIELDS, olds, news).filter((key) =>
    ROW_COLUMNS.includes(key as keyof ChurchVoiceAgentRowInputs),
  );
}

export function diffChurchVoiceAgentRow(
  _id: string,
  olds: Record<string, any>,
  news: Record<string, any>,
): pulumi.dynamic.DiffResult {
  const changed = changedInputs(ROW_FIELDS, olds, news);
  // The church id is the row's key: another church is another row. Everything else is updated in place.
  const replaces = changed.filter((key) => key === 'churchId');
  return {
    changes: changed.length > 0,
    replaces,
    stables: replaces.length ? [] : ['churchId', 'createdAt'],
    // The new row keeps the number, which is unique: the old row must go first (its delete needs decommission).
    deleteBeforeReplace: replaces.length > 0 && olds.phoneNumber === news.phoneNumber,
  };
}

/** The state-only inputs, carried from inputs or previous outputs into new outputs. */
function stateOnly(
  from: Partial<ChurchVoiceAgentRowInputs> | undefined,
): Pick<ChurchVoiceAgentRowOutputs, 'decommission' | 'adoptId'> {
  return from?.adoptId
    ? { decommission: from.decommission ?? false, adoptId: from.adoptId }
    : { decommission: from?.decommission ?? false };
}

export function rowOutputs(
  row: ChurchVoiceAgentRecord,
  from: Partial<ChurchVoiceAgentRowInputs> | undefined,
): ChurchVoiceAgentRowOutputs {
  const outputs: ChurchVoiceAgentRowOutputs = {
    churchId: row.church_id,
    phoneNumber: row.twilio_phone_number,
    provider: row.provider,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...stateOnly(from),
  };
  if (row.livekit_trunk_id !== null) outputs.livekitTrunkId = row.livekit_trunk_id;
  if (row.dispatch_rule_id !== null) outputs.dispatchRuleId = row.dispatch_rule_id;
  return outputs;
}

/** The whole row as the inputs want it: a column the inputs leave out is cleared, so the row equals the program. */
export function rowWrite(inputs: ChurchVoiceAgentRowInputs): ChurchVoiceAgentWrite {
  return {
    church_id: inputs.churchId,
    twilio_phone_number: inputs.phoneNumber,
    provider: inputs.provider,
    livekit_trunk_id: inputs.livekitTrunkId ?? null,
    dispatch_rule_id: inputs.dispatchRuleId ?? null,
    status: inputs.status ?? 'active',
  };
}

/** Upserts the row; a number already routed to another church gets an error naming that church. */
async function writeRow(
  client: SupabaseVendorClient,
  inputs: ChurchVoiceAgentRowInputs,
): Promise<ChurchVoiceAgentRecord> {
  try {
    return await client.churchVoiceAgents.upsert(rowWrite(inputs));
  } catch (error) {
    if (error instanceof VendorError && error.code === '23505') {
      const owner = await client.churchVoiceAgents.getByNumber(inputs.phoneNumber);
      if (owner && owner.church_id !== inputs.churchId) {
        throw new NumberInUseError(inputs.phoneNumber, inputs.churchId, owner.church_id);
      }
    }
    throw error;
  }
}

async function adoptRow(
  client: SupabaseVendorClient,
  inputs: ChurchVoiceAgentRowInputs,
): Promise<ChurchVoiceAgentRecord> {
  const churchId = inputs.adoptId as string;
  const row = await client.churchVoiceAgents.get(churchId);
  if (!row) {
    throw new NothingToAdoptError(
      { what: `the church_voice_agents row of church ${churchId}`, holder: 'Supabase', id: churchId, churchId },
      `cannot adopt the church_voice_agents row of church ${churchId}: ` +
        `there is none at ${client.settings.url}; nothing was written`,
    );
  }
  if (row.twilio_phone_number !== inputs.phoneNumber) {
    const what = `the church_voice_agents row of church ${churchId}`;
    throw new AdoptionMismatchError(
      {
        what,
        holder: 'Supabase',
        id: churchId,
        churchId,
        differences: [{ field: 'phoneNumber', holderHas: row.twilio_phone_number, programSays: inputs.phoneNumber }],
      },
      `cannot adopt ${what}: it routes ${row.twilio_phone_number}, ` +
        `the program says phoneNumber ${inputs.phoneNumber}; nothing was written`,
    );
  }
  return row;
}

export function notDecommissionedRowError(churchId: string, phoneNumber: string | undefined): NotDecommissionedError {
  return new NotDecommissionedError({ kind: 'church_voice_agents row', id: churchId, churchId, phoneNumber });
}

/** Supabase answers at most 1000 rows per request by default (max-rows): the table is read in pages of that. */
const ROWS_PAGE = 1000;

/** Every church_voice_agents row, page by page in a stable order. */
async function allRows(client: SupabaseVendorClient): Promise<ChurchVoiceAgentRecord[]> {
  const rows: ChurchVoiceAgentRecord[] = [];
  for (let from = 0; ; from += ROWS_PAGE) {
    const page =
      (await client.request<ChurchVoiceAgentRecord[]>('GET', CHURCH_VOICE_AGENTS_TABLE, (db) =>
        db
          .from(CHURCH_VOICE_AGENTS_TABLE)
          .select('*')
          .order('church_id')
          .range(from, from + ROWS_PAGE - 1),
      )) ?? [];
    rows.push(...page);
    if (page.length < ROWS_PAGE) return rows;
  }
}

export const provider: pulumi.dynamic.ResourceProvider<ChurchVoiceAgentRowInputs, ChurchVoiceAgentRowOutputs> = {
  async configure(req) {
    configureFromStack(req);
  },

  async check(olds, news) {
    return checkChurchVoiceAgentRow(olds, news);
  },

  async diff(id, olds, news) {
    return diffChurchVoiceAgentRow(id, olds, news);
  },

  async create(inputs) {
    const client = new SupabaseVendorClient();
    const row = inputs.adoptId ? await adoptRow(client, inputs) : await writeRow(client, inputs);
    return { id: row.church_id, outs: rowOutputs(row, inputs) };
  },

  async read(id, props) {
    const settings = supabaseSettings();
    const client = new SupabaseVendorClient(settings);
    // In a refresh every row's read shares one listing of the table (providers/shared-reads.ts).
    const row = await readThroughList({
      listKey: accountKey('supabase church_voice_agents', settings.url, settings.serviceKey),
      list: () => allRows(client),
      idOf: (record) => record.church_id,
      id,
      readOne: () => client.churchVoiceAgents.get(id),
    });
    if (!row) return { id: '', props: undefined };
    return { id, props: rowOutputs(row, props) };
  },

  async update(_id, olds, news) {
    // decommission/adoptId alone change nothing in the row: they are recorded in the state, Supabase is not called.
    if (rowChanges(olds, news).length === 0) return { outs: { ...olds, ...stateOnly(news) } };
    const row = await writeRow(new SupabaseVendorClient(), news);
    return { outs: rowOutputs(row, news) };
  },

  async delete(id, props) {
    if (props.decommission !== true) throw notDecommissionedRowError(id, props.phoneNumber);
    await new SupabaseVendorClient().churchVoiceAgents.delete(id);
  },
};

/**
 * A church's church_voice_agents row among the kinds of a line (providers/resource-kinds.ts),
 * and how drift words it.
 */
export const CHURCH_VOICE_AGENT_ROW_KIND = resourceKind({
  module: 'supabase',
  typeName: 'ChurchVoiceAgentRow',
  step: 'church-row',
  driftKind: 'row',
  label: 'church_voice_agents row',
  nameSuffix: '-row',
  bookkeepingOutputs: ROW_BOOKKEEPING_OUTPUTS,
  describeChange: (_id, _before, change) => changedByHand(`church_voice_agents.${change.property}`, change),
  describeMissing: (id, before) =>
    `the church_voice_agents row of ${id} was deleted by hand: the agent cannot look the church up ` +
    `by ${formatValue(before.phoneNumber)}`,
});

export type ChurchVoiceAgentRowArgs = ResourceArgs<ChurchVoiceAgentRowInputs>;

export class ChurchVoiceAgentRow extends pulumi.dynamic.Resource {
  // Output properties are `declare`d, never `!:` (why: providers/resource-kind.ts, "Resource classes").
  declare public readonly churchId: pulumi.Output<string>;
  declare public readonly phoneNumber: pulumi.Output<string>;
  declare public readonly provider: pulumi.Output<VoiceProvider>;
  declare public readonly livekitTrunkId: pulumi.Output<string | undefined>;
  declare public readonly dispatchRuleId: pulumi.Output<string | undefined>;
  declare public readonly status: pulumi.Output<ChurchVoiceAgentStatus>;
  declare public readonly decommission: pulumi.Output<boolean>;
  declare public readonly adoptId: pulumi.Output<string | undefined>;
  declare public readonly createdAt: pulumi.Output<string>;
  declare public readonly updatedAt: pulumi.Output<string>;

  constructor(name: string, args: ChurchVoiceAgentRowArgs, opts?: pulumi.CustomResourceOptions) {
    // Pulumi registers as outputs only the keys present in props: every output, given as input or not, is listed.
    const everyOutput: Record<keyof ChurchVoiceAgentRowOutputs, undefined> = {
      churchId: undefined,
      phoneNumber: undefined,
      provider: undefined,
      livekitTrunkId: undefined,
      dispatchRuleId: undefined,
      status: undefined,
      decommission: undefined,
      adoptId: undefined,
      createdAt: undefined,
      updatedAt: undefined,
    };
    super(
      projectProvider('church-voice-agent-row'),
      name,
      { ...everyOutput, ...args },
      opts,
      CHURCH_VOICE_AGENT_ROW_KIND.module,
      CHURCH_VOICE_AGENT_ROW_KIND.typeName,
    );
  }
}
