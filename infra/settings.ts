import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_AGENT_NAME } from '../providers/livekit-sip-dispatch-rule';
import { CONFIG_NAMESPACE, PRODUCTION_FQDN_CONNECTION_ID } from '../providers/provider-settings';

/** A church already answered by the agent before this program existed (seed table "Current phone numbers"). */
export interface ChurchLineInService {
  churchId: string;
  name: string;
  phoneNumber: string;
  trunkId: string;
  /** The line's dispatch rule, when known; without it the rule is left as it is (not managed). */
  dispatchRuleId?: string;
}

/** A legacy Twilio trunk: its numbers stay on Twilio and on this trunk. */
export interface TwilioTrunkInService {
  trunkId: string;
  numbers: string[];
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
  lockedTrunkId: string;
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
        'registry; set it with `pulumi config set --secret registryDatabaseUrl postgres://...` or REGISTRY_DATABASE_URL',
    );
  }
  return {
    stack: pulumi.getStack(),
    telnyxConnectionId: config.get('telnyxConnectionId') ?? PRODUCTION_FQDN_CONNECTION_ID,
    agentName: config.get('agentName') ?? DEFAULT_AGENT_NAME,
    ringFromNumber: config.get('ringFromNumber') ?? '+14697288326',
    testRings: config.getBoolean('testRings') ?? true,
    lockedTrunkId: config.get('lockedTrunkId') ?? 'ST_Xa3Bp9aixRFP',
    adoptLinesInService: config.getBoolean('adoptLinesInService') ?? true,
    linesInService: {
      churches: lines.churches ?? [],
      twilioTrunks: lines.twilioTrunks ?? [],
      fallbackNumber: lines.fallbackNumber,
    },
    registryDatabaseUrl,
  };
}
