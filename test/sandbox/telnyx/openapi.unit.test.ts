/**
 * The spec module judges bodies by Telnyx's published OpenAPI document, as trimmed into the repository
 * (sandbox/telnyx/telnyx-openapi.yml): right ones pass, wrong ones are named. No test here reads the full spec.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseYaml } from 'yaml';
import { SANDBOX_DIR } from '../../../sandbox/processes';
import {
  TRIMMED_SPEC_FILE,
  findTelnyxOperation,
  loadTelnyxSpec,
  parseTelnyxQuery,
  telnyxSpecPath,
  validateTelnyxErrorEnvelope,
  validateTelnyxRequest,
  validateTelnyxResponse,
  validateTelnyxSchema,
} from '../../../sandbox/telnyx/openapi';
import {
  RESERVED_PATHS,
  SOURCE_FILE_NAME,
  namedSchemas,
  operationsOf,
  readTrimmedHeader,
  servedOperationIds,
  trimTelnyxSpec,
} from '../../../scripts/trim-telnyx-openapi';

const RESERVATION_OPERATIONS = [
  'ListNumberReservations',
  'CreateNumberReservation',
  'RetrieveNumberReservation',
  'ExtendNumberReservationExpiryTime',
];

type Document = Parameters<typeof trimTelnyxSpec>[0];
const trimmedText = () => fs.readFileSync(TRIMMED_SPEC_FILE, 'utf8');
const trimmedDocument = () => parseYaml(trimmedText()) as Document;

const phoneNumber = {
  id: '1293384261075731499',
  record_type: 'phone_number',
  phone_number: '+14144007103',
  status: 'active',
  tags: [],
  external_pin: null,
  connection_id: '2925216093662349036',
  connection_name: 'LiveKit Inbound v2',
  customer_reference: null,
  billing_group_id: null,
  country_iso_alpha2: 'US',
  phone_number_type: 'local',
  purchased_at: '2026-11-24T10:00:00.000Z',
  created_at: '2026-11-24T10:00:00.000Z',
  updated_at: '2026-11-24T10:00:00.000Z',
  deletion_lock_enabled: false,
};

describe('Telnyx OpenAPI spec module', () => {
  it('loads the trimmed spec shipped in the repository, and keeps a JSON copy of it under .sandbox/cache', () => {
    expect(telnyxSpecPath()).toBe(TRIMMED_SPEC_FILE);
    findTelnyxOperation('GET', '/v2/phone_numbers');
    const hash = createHash('sha256').update(fs.readFileSync(TRIMMED_SPEC_FILE)).digest('hex').slice(0, 16);
    const document = JSON.parse(
      fs.readFileSync(path.join(SANDBOX_DIR, 'cache', `telnyx-openapi-${hash}.json`), 'utf8'),
    );
    // The served operations, the four number reservation ones among them; nothing else of the official spec's 782
    // paths.
    const operations = operationsOf(document);
    expect(operations).toHaveLength(21);
    expect(servedOperationIds()).toEqual(expect.arrayContaining(RESERVATION_OPERATIONS));
    expect(operations.map((o) => o.operationId).sort()).toEqual(servedOperationIds().sort());
  });

  it('has an operation for every route the stand-in serves, reached by a concrete request path', () => {
    const served = servedOperationIds();
    expect(served.length).toBeGreaterThan(0);
    const inSpec = new Map(operationsOf(loadTelnyxSpec() as unknown as Document).map((o) => [o.operationId, o]));
    for (const operationId of served) {
      const operation = inSpec.get(operationId);
      expect({ operationId, inSpec: !!operation }).toEqual({ operationId, inSpec: true });
      const concrete = `/v2${operation!.template.replace(/\{[^}]+\}/g, 'x1')}`;
      expect({ operationId, routed: findTelnyxOperation(operation!.method, concrete)?.operationId }).toEqual({
        operationId,
        routed: operationId,
      });
    }
    for (const template of RESERVED_PATHS) expect(Object.keys(loadTelnyxSpec().paths)).toContain(template);
    for (const schema of namedSchemas()) expect(Object.keys(loadTelnyxSpec().components.schemas)).toContain(schema);
  });

  it('records where the trimmed file came from, and is exactly what trimming gives (closed under $ref)', () => {
    const text = trimmedText();
    const document = trimmedDocument();
    const header = readTrimmedHeader(text);
    expect(text.startsWith('# GENERATED FILE - DO NOT EDIT BY HAND.')).toBe(true);
    expect(text).toContain(`# Source: Telnyx's official OpenAPI spec, ${SOURCE_FILE_NAME}`);
    expect(text).toMatch(/^# Command: npx ts-node --transpile-only scripts\/trim-telnyx-openapi\.ts \S+$/m);
    expect(header.sourceVersion).toBe((document.info as { version: string }).version);
    expect(header.sourceSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(header.generated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    // Trimming the trimmed document keeps all of it: every $ref it holds resolves inside it, and nothing is extra.
    expect(trimTelnyxSpec(document)).toEqual(document);
  });

  it('prefers literal segments over templates when matching a concrete path (any spec, via TELNYX_OPENAPI_SPEC)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'telnyx-openapi-'));
    const saved = { spec: process.env.TELNYX_OPENAPI_SPEC, sandbox: process.env.CHURCHWISE_SANDBOX_DIR };
    const response = { '200': { description: 'ok' } };
    fs.writeFileSync(
      path.join(dir, 'spec.yml'),
      JSON.stringify({
        openapi: '3.1.0',
        info: { title: 't', version: '1' },
        paths: {
          '/phone_numbers/{id}': { get: { operationId: 'RetrievePhoneNumber', responses: response } },
          '/phone_numbers/jobs': { get: { operationId: 'ListPhoneNumbersJobs', responses: response } },
        },
        components: {},
      }),
    );
    try {
      process.env.TELNYX_OPENAPI_SPEC = path.join(dir, 'spec.yml');
      process.env.CHURCHWISE_SANDBOX_DIR = path.join(dir, 'sandbox');
      jest.isolateModules(() => {
        const isolated = require('../../../sandbox/telnyx/openapi') as typeof import('../../../sandbox/telnyx/openapi');
        expect(isolated.findTelnyxOperation('GET', '/v2/phone_numbers/jobs')?.operationId).toBe('ListPhoneNumbersJobs');
        expect(isolated.findTelnyxOperation('GET', '/v2/phone_numbers/7')?.operationId).toBe('RetrievePhoneNumber');
      });
    } finally {
      for (const [name, value] of [
        ['TELNYX_OPENAPI_SPEC', saved.spec],
        ['CHURCHWISE_SANDBOX_DIR', saved.sandbox],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says which in-repo file is missing and how to regenerate it', () => {
    const saved = process.env.TELNYX_OPENAPI_SPEC;
    try {
      delete process.env.TELNYX_OPENAPI_SPEC;
      jest.isolateModules(() => {
        const realFs = jest.requireActual('fs') as typeof fs;
        jest.doMock('fs', () => ({
          ...realFs,
          existsSync: (file: string) => file !== TRIMMED_SPEC_FILE && realFs.existsSync(file),
        }));
        const isolated = require('../../../sandbox/telnyx/openapi') as typeof import('../../../sandbox/telnyx/openapi');
        expect(() => isolated.loadTelnyxSpec()).toThrow(
          /not found at sandbox\/telnyx\/telnyx-openapi\.yml: .*scripts\/trim-telnyx-openapi\.ts <path-to-telnyx-openapi-spec3\.yml>/,
        );
      });
      jest.dontMock('fs');
      process.env.TELNYX_OPENAPI_SPEC = path.join(os.tmpdir(), 'no-such-telnyx-openapi.yml');
      jest.isolateModules(() => {
        const isolated = require('../../../sandbox/telnyx/openapi') as typeof import('../../../sandbox/telnyx/openapi');
        expect(() => isolated.loadTelnyxSpec()).toThrow(
          /no-such-telnyx-openapi\.yml \(set by TELNYX_OPENAPI_SPEC\).*sandbox\/telnyx\/telnyx-openapi\.yml/,
        );
      });
    } finally {
      if (saved === undefined) delete process.env.TELNYX_OPENAPI_SPEC;
      else process.env.TELNYX_OPENAPI_SPEC = saved;
    }
  });

  it('finds the operation for a concrete path', () => {
    expect(findTelnyxOperation('GET', '/v2/phone_numbers/1293384261075731499')).toEqual({
      operationId: 'RetrievePhoneNumber',
      method: 'get',
      template: '/phone_numbers/{id}',
      pathParams: { id: '1293384261075731499' },
    });
    expect(findTelnyxOperation('POST', '/calls/v3%3Aabc/actions/hangup')).toMatchObject({
      operationId: 'HangupCall',
      pathParams: { call_control_id: 'v3:abc' },
    });
    expect(findTelnyxOperation('GET', '/v2/no_such_resource')).toBeUndefined();
    expect(findTelnyxOperation('PUT', '/v2/phone_numbers')).toBeUndefined();
  });

  it('accepts a phone number record shaped as the spec says', () => {
    expect(validateTelnyxResponse('GET', '/v2/phone_numbers/1293384261075731499', 200, { data: phoneNumber })).toEqual(
      [],
    );
  });

  it('rejects a phone_number sent as a number, naming the field and the rule', () => {
    const errors = validateTelnyxResponse('GET', '/v2/phone_numbers/1', 200, {
      data: { ...phoneNumber, phone_number: 14144007103 },
    });
    expect(errors).toEqual(['response body /data/phone_number: must be string']);
  });

  it('rejects a record missing a required field', () => {
    const { deletion_lock_enabled: _dropped, ...incomplete } = phoneNumber;
    expect(validateTelnyxResponse('GET', '/v2/phone_numbers/1', 200, { data: incomplete })).toEqual([
      'response body /data/deletion_lock_enabled: is required',
    ]);
  });

  it('rejects a value outside an enum, listing the allowed ones', () => {
    const errors = validateTelnyxResponse('POST', '/v2/number_orders', 200, {
      data: { id: '6ce96a66-7c9e-4844-8072-fea796124bf8', status: 'done' },
    });
    expect(errors).toEqual(['response body /data/status: must be one of ["pending","success","failure"]']);
  });

  it('rejects a call without its required ids', () => {
    expect(validateTelnyxResponse('POST', '/v2/calls', 200, { data: { record_type: 'call', is_alive: true } })).toEqual(
      [
        'response body /data/call_control_id: is required',
        'response body /data/call_leg_id: is required',
        'response body /data/call_session_id: is required',
      ],
    );
  });

  it('rejects a status the operation does not declare, and any path the spec lacks', () => {
    expect(validateTelnyxResponse('GET', '/v2/fqdns', 404, { errors: [] })).toEqual([
      'status 404 is not declared for ListFqdns (GET /fqdns)',
    ]);
    expect(validateTelnyxResponse('GET', '/v2/churches', 200, {})).toEqual([
      'no operation in the Telnyx spec for GET /churches',
    ]);
  });

  it('uses the default response where the operation declares one (call control errors need a title)', () => {
    expect(
      validateTelnyxResponse('GET', '/v2/calls/v3:x', 404, {
        errors: [{ code: '10005', title: 'Resource not found' }],
      }),
    ).toEqual([]);
    expect(validateTelnyxResponse('GET', '/v2/calls/v3:x', 404, { errors: [{ code: '10005' }] })).toEqual([
      'response body /errors/0/title: is required',
    ]);
  });

  it('checks request bodies: wrong types and missing required fields are named; a required body must be sent', () => {
    expect(
      validateTelnyxRequest('POST', '/v2/number_orders', { phone_numbers: [{ phone_number: '+14144007103' }] }),
    ).toEqual([]);
    expect(validateTelnyxRequest('POST', '/v2/number_orders', { phone_numbers: [{}] })).toEqual([
      'request body /phone_numbers/0/phone_number: is required',
    ]);
    expect(validateTelnyxRequest('PATCH', '/v2/fqdn_connections/1', { transport_protocol: 'SCTP' })).toEqual([
      'request body /transport_protocol: must be one of ["UDP","TCP","TLS"]',
    ]);
    expect(validateTelnyxRequest('POST', '/v2/calls', { to: '+14144007103', from: '+14144007104' })).toEqual([
      'request body /connection_id: is required',
    ]);
    expect(validateTelnyxRequest('POST', '/v2/calls/v3:x/actions/hangup', undefined)).toEqual([
      'request body /: is required by HangupCall (send at least {})',
    ]);
    expect(validateTelnyxRequest('GET', '/v2/phone_numbers', undefined)).toEqual([]);
  });

  it('parses deepObject query parameters with comma-joined arrays into typed values', () => {
    const parsed = parseTelnyxQuery(
      'GET',
      '/v2/available_phone_numbers',
      '?filter%5Bfeatures%5D=voice%2Csms&filter%5Blimit%5D=5&filter%5Bbest_effort%5D=false&filter%5Bphone_number%5D%5Bstarts_with%5D=414',
    );
    expect(parsed.violations).toEqual([]);
    expect(parsed.query).toEqual({
      filter: { features: ['voice', 'sms'], limit: 5, best_effort: false, phone_number: { starts_with: '414' } },
    });
  });

  it('names a bad query parameter the way it is written on the wire', () => {
    const parsed = parseTelnyxQuery('GET', '/v2/phone_numbers', 'filter[status]=live&page[size]=500');
    expect(parsed.violations.map((v) => v.text)).toEqual([
      'query page[size]: must be <= 250',
      'query filter[status]: must be one of ["purchase-pending","purchase-failed","port-pending","active","deleted","port-failed","emergency-only","ported-out","port-out-pending"]',
    ]);
  });

  it('checks webhook events and the generic error envelope', () => {
    const hangup = {
      data: {
        event_type: 'call.hangup',
        id: '0ccc7b54-4df3-4bca-a65a-3da1ecc777f0',
        occurred_at: '2026-11-24T10:00:00.000Z',
        record_type: 'event',
        payload: { call_control_id: 'v3:x', hangup_cause: 'not_found', state: 'hangup' },
      },
    };
    expect(validateTelnyxSchema('CallHangupEvent', hangup)).toEqual([]);
    expect(
      validateTelnyxSchema('CallHangupEvent', { data: { ...hangup.data, payload: { hangup_cause: 'gone' } } })[0],
    ).toMatch(/^CallHangupEvent \/data\/payload\/hangup_cause: must be one of/);
    expect(
      validateTelnyxErrorEnvelope({ errors: [{ code: '10011', title: 'Too many requests', detail: 'slow down' }] }),
    ).toEqual([]);
    expect(validateTelnyxErrorEnvelope({ errors: [{ code: 10011, title: 'Too many requests' }] })).toEqual([
      'error body /errors/0/code: must be string',
    ]);
  });
});
