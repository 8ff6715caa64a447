import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_AGENT_NAME } from '../providers/livekit-sip-dispatch-rule';
import { lockedLiveKitIds, LockedObjectError, parseLockedIds } from '../vendors/livekit-locks';
import { CONFIG_NAMESPACE, PRODUCTION_FQDN_CONNECTION_ID } from '../vendors/vendor-settings';

/**
 * A church already answered by the agent before this program existed (the design document's table "Current phone
 * numbers").
 */
export interface ChurchLineInService {
  churchId: string;
  name: string;
  phoneNumber: string;
  trunkId: string;
  /**
   * The line's dispatch rule. Without it the rule is found in LiveKit by the trunk it routes (the one rule whose
   * trunkIds lists trunkId) and adopted: an adopted line owns its rule either way.
   */
  dispatchRuleId?: string;
}

/** A legacy Twilio trunk: its numbers stay on Twilio and on this trunk. */
export interface TwilioTrunkInService {
  trunkId: string;
  numbers: string[];
  /** The dispatch rules that route this trunk's calls, adopted as they are (found with `./dev drift`). */
  dispatchRuleIds?: string[];
}

export interface LinesInService {
  churches: ChurchLineInService[];
  twilioTrunks: TwilioTrunkInService[];
  /** Company fallback number (Telnyx, TeXML application, not LiveKit). */
  fallbackNumber?: string;
}

/** Everything the program reads from the stack's config (Pulumi.yaml declares each key with its default). */
export interface ProgramSettings {
  stack: string;
  telnyxConnectionId: string;
  agentName: string;
  ringFromNumber: string;
  testRings: boolean;
  /**
   * The company's fallback TeXML application: a parked church's number moves onto it. Empty = parking cannot
   * happen: a parked church's line is left as it was, with a warning naming this setting.
   */
  fallbackTexmlAppId: string;
  /** Every locked LiveKit id: the design document's trunk plus `lockedLiveKitIds`. Adopted read-only, never changed. */
  lockedLiveKitIds: string[];
  adoptLinesInService: boolean;
  linesInService: LinesInService;
  /** Registry URL: secret config, else REGISTRY_DATABASE_URL / DATABASE_URL (the sandbox passes it by env). */
  registryDatabaseUrl: string;
}

/**
 * What an inline (Automation API) run passes that a CLI run reads from config or its environment: an inline
 * program runs inside the webhook's process, whose environment is not the engine's.
 */
export interface ProgramOverrides {
  registryDatabaseUrl?: string;
  /**
   * A run for some churches of a shard stack (the worker's, always with `--target` on the same churches): only they
   * are declared, so the run costs the same however many churches the shard holds. The engine leaves every
   * resource it is not targeting as it is, declared or not. Never for the base stack (it holds the shared objects).
   */
  onlyChurchIds?: readonly string[];
  /** With `onlyChurchIds`: the stack's `lines` before this run, kept for every church the run does not declare. */
  previousLines?: readonly unknown[];
}

export function readProgramSettings(overrides: ProgramOverrides = {}): ProgramSettings {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const lines = config.getObject<Partial<LinesInService>>('linesInService') ?? {};
  // runtime.getConfig returns the decrypted value without wrapping it in an Output: the URL is needed before any
  // resource is declared, and it is never exported or logged.
  const registryDatabaseUrl =
    overrides.registryDatabaseUrl ||
    pulumi.runtime.getConfig(`${CONFIG_NAMESPACE}:registryDatabaseUrl`) ||
    process.env.REGISTRY_DATABASE_URL ||
    process.env.DATABASE_URL;
  if (!registryDatabaseUrl) {
    throw new Error(
      `missing setting ${CONFIG_NAMESPACE}:registryDatabaseUrl: the program reads the churches from the customer ` +
        'registry; set it with `pulumi config set --secret registryDatabaseUrl postgres://...` ' +
        'or REGISTRY_DATABASE_URL',
    );
  }
  return {
    stack: pulumi.getStack(),
    telnyxConnectionId: config.get('telnyxConnectionId') ?? PRODUCTION_FQDN_CONNECTION_ID,
    agentName: config.get('agentName') ?? DEFAULT_AGENT_NAME,
    ringFromNumber: config.get('ringFromNumber') ?? '+14697288326',
    testRings: config.getBoolean('testRings') ?? true,
    fallbackTexmlAppId: config.get('fallbackTexmlAppId')?.trim() ?? '',
    lockedLiveKitIds: [...lockedLiveKitIds(parseLockedIds(config.get('lockedLiveKitIds')))],
    adoptLinesInService: config.getBoolean('adoptLinesInService') ?? true,
    linesInService: checkLinesInService(
      { churches: lines.churches ?? [], twilioTrunks: lines.twilioTrunks ?? [], fallbackNumber: lines.fallbackNumber },
      lockedLiveKitIds(parseLockedIds(config.get('lockedLiveKitIds'))),
    ),
    registryDatabaseUrl,
  };
}

/**
 * Refuses lines in service that name a locked LiveKit object: adopting the locked trunk as a church's or a Twilio
 * line would make it a second, unlocked resource that `up` could change (how the working Twilio lines were once
 * broken). The error names the config entry; nothing is declared.
 */
export function checkLinesInService(lines: LinesInService, locked: ReadonlySet<string>): LinesInService {
  const named: Array<[string, unknown]> = [
    ...lines.churches.flatMap((c, i): Array<[string, unknown]> => [
      [`linesInService.churches[${i}].trunkId`, c.trunkId],
      [`linesInService.churches[${i}].dispatchRuleId`, c.dispatchRuleId],
    ]),
    ...lines.twilioTrunks.flatMap((t, i): Array<[string, unknown]> => [
      [`linesInService.twilioTrunks[${i}].trunkId`, t.trunkId],
      ...(t.dispatchRuleIds ?? []).map((id, j): [string, unknown] => [
        `linesInService.twilioTrunks[${i}].dispatchRuleIds[${j}]`,
        id,
      ]),
    ]),
  ];
  for (const [field, id] of named) {
    if (typeof id === 'string' && locked.has(id)) {
      const kind = id.startsWith('SDR_') ? 'dispatch rule' : 'trunk';
      throw new LockedObjectError(kind, id, 'adopting it as a line in service', field);
    }
  }
  return lines;
}
