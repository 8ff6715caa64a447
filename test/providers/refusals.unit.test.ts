/**
 * The providers' refusals: each class's fields, and its message word for word. The message is what the founder
 * reads in the `pulumi up` output (the engine passes only the message through the provider process), so the words
 * are pinned here once; the provider tests match the type and the fields.
 */
import { LockedObjectError } from '../../vendors/livekit-locks';
import { ringLine, type RingLineRequest } from '../../providers/line-ring';
import {
  AdoptionMismatchError,
  AmbiguousHeldNumbersError,
  DeletionLockError,
  InvalidInputError,
  LockedResourceError,
  LockedWithoutAdoptIdError,
  LockWithChangesError,
  NotDecommissionedError,
  NothingToAdoptError,
  NumberInUseError,
  NumberUnavailableError,
  UnknownConnectionError,
} from '../../providers/refusals';

const DECOMMISSION = (church: string) =>
  `To release the line on purpose run \`./dev church decommission --church ${church}\`: it sets the church's registry ` +
  "status to 'decommission' (every resource of the line records decommission: true), then releases it";

describe('NotDecommissionedError', () => {
  it('names the trunk or rule and, with no church known, the command with a placeholder', () => {
    const error = new NotDecommissionedError({ kind: 'trunk', id: 'ST_LWgmiBSwTk7P', objectName: 'grace line' });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({
      name: 'NotDecommissionedError',
      kind: 'trunk',
      id: 'ST_LWgmiBSwTk7P',
      objectName: 'grace line',
    });
    expect(error.message).toBe(
      `refusing to delete trunk ST_LWgmiBSwTk7P ("grace line"): deleting it cuts the church's line. ${DECOMMISSION('<church id>')}`,
    );
    expect(new NotDecommissionedError({ kind: 'dispatch rule', id: 'SDR_5kq9cM2nPQra' }).message).toBe(
      `refusing to delete dispatch rule SDR_5kq9cM2nPQra: deleting it cuts the church's line. ${DECOMMISSION('<church id>')}`,
    );
  });

  it('names the church row, its number and the church in the command', () => {
    const error = new NotDecommissionedError({
      kind: 'church_voice_agents row',
      id: 'grace',
      churchId: 'grace',
      phoneNumber: '+14144007103',
    });
    expect(error.message).toBe(
      'refusing to delete the church_voice_agents row of church grace (+14144007103): without it the voice agent cannot ' +
        `route the church's calls. ${DECOMMISSION('grace')}.`,
    );
  });

  it('names the number (or its id) and the church', () => {
    expect(
      new NotDecommissionedError({
        kind: 'number',
        id: '1293384261075731499',
        churchId: 'grace',
        phoneNumber: '+14144007103',
      }).message,
    ).toBe(
      `refusing to release +14144007103 (church grace): a number is released only by an explicit decommission. ${DECOMMISSION('grace')}`,
    );
    expect(
      new NotDecommissionedError({ kind: 'number', id: '1293384261075731499', churchId: 'grace' }).message,
    ).toMatch(/^refusing to release number id 1293384261075731499 \(church grace\): /);
  });

  it('names the ring record and says how to drop ring records on purpose', () => {
    const error = new NotDecommissionedError({
      kind: 'test ring',
      id: 'ring:grace:+13305550101',
      churchId: 'grace',
      phoneNumber: '+13305550101',
    });
    expect(error.message).toBe(
      'refusing to delete the test ring record of church grace (+13305550101): a ring record goes only with its line, or ' +
        `the next \`up\` would ring the line again for nothing. ${DECOMMISSION('grace')}. (Turned test rings off? Set ` +
        'testRings back to true, or drop the ring records on purpose with `pulumi state delete <urn>`.)',
    );
  });
});

it('DeletionLockError names the number, the church and the lock', () => {
  const error = new DeletionLockError('+14142016000', '1293384261075731499', 'church-locked');
  expect(error).toMatchObject({
    name: 'DeletionLockError',
    phoneNumber: '+14142016000',
    id: '1293384261075731499',
    churchId: 'church-locked',
  });
  expect(error.message).toBe(
    'refusing to release +14142016000 (church church-locked): Telnyx has a deletion lock on it (deletion_lock_enabled). ' +
      'Turn the lock off in the Telnyx portal if the church really is leaving, then run pulumi up again',
  );
});

it('LockedResourceError is a LockedObjectError with the locked resource wording and fix', () => {
  const error = new LockedResourceError('trunk', 'ST_Xa3Bp9aixRFP', 'Twilio main', 'update (numbers)');
  expect(error).toBeInstanceOf(LockedObjectError);
  expect(error).toMatchObject({
    name: 'LockedResourceError',
    kind: 'trunk',
    id: 'ST_Xa3Bp9aixRFP',
    objectName: 'Twilio main',
    action: 'update (numbers)',
  });
  expect(error.message).toBe(
    'trunk ST_Xa3Bp9aixRFP ("Twilio main") is LOCKED (locked: true, read-only): update (numbers) refused; LiveKit was not ' +
      'called. Locked objects (e.g. the legacy Twilio trunk) must never be changed by a program. To manage it anyway, ' +
      'remove it from the stack (pulumi state delete <urn>) and adopt it again without locked, with founder approval.',
  );
  expect(error.stack).toContain('("Twilio main") is LOCKED (locked: true, read-only)');
  // The base class keeps its own wording.
  expect(new LockedObjectError('trunk', 'ST_Xa3Bp9aixRFP', 'delete').message).toMatch(
    /^trunk ST_Xa3Bp9aixRFP is LOCKED \(lockedLiveKitIds\): delete refused; LiveKit was not called\. /,
  );
});

it('LockedWithoutAdoptIdError and LockWithChangesError name the kind, the id and the changes', () => {
  expect(new LockedWithoutAdoptIdError('dispatch rule').message).toBe(
    'a locked dispatch rule can only be adopted: set adoptId to the existing id; nothing was created',
  );
  const error = new LockWithChangesError('trunk', 'ST_LWgmiBSwTk7P', ['name', 'numbers']);
  expect(error).toMatchObject({
    name: 'LockWithChangesError',
    kind: 'trunk',
    id: 'ST_LWgmiBSwTk7P',
    changed: ['name', 'numbers'],
  });
  expect(error.message).toBe(
    'trunk ST_LWgmiBSwTk7P: locking it and changing name, numbers at once is refused; lock it in a step of its own',
  );
});

describe('AdoptionMismatchError', () => {
  it('names every differing field with both values', () => {
    const error = new AdoptionMismatchError({
      what: 'inbound trunk ST_LWgmiBSwTk7P',
      holder: 'LiveKit',
      id: 'ST_LWgmiBSwTk7P',
      differences: [
        { field: 'numbers', holderHas: ['+14144007103'], programSays: ['+14144007104'] },
        { field: 'name', holderHas: 'a', programSays: 'b' },
      ],
    });
    expect(error).toMatchObject({
      name: 'AdoptionMismatchError',
      what: 'inbound trunk ST_LWgmiBSwTk7P',
      holder: 'LiveKit',
      id: 'ST_LWgmiBSwTk7P',
    });
    expect(error.message).toBe(
      'cannot adopt inbound trunk ST_LWgmiBSwTk7P: it does not match the program (numbers: LiveKit has ["+14144007103"], ' +
        'program says ["+14144007104"]; name: LiveKit has "a", program says "b"); nothing was created or changed',
    );
  });

  it("keeps a holder's own wording when given", () => {
    const error = new AdoptionMismatchError(
      { what: 'x', holder: 'Supabase', id: 'grace', churchId: 'grace', differences: [] },
      'cannot adopt x: it routes +1, the program says phoneNumber +2; nothing was written',
    );
    expect(error.message).toBe('cannot adopt x: it routes +1, the program says phoneNumber +2; nothing was written');
  });
});

it('NothingToAdoptError keeps the holder wording; NumberInUseError names both churches', () => {
  expect(
    new NothingToAdoptError({ what: 'x', holder: 'Telnyx', id: '+13122010000' }, 'cannot adopt +13122010000: none'),
  ).toMatchObject({
    name: 'NothingToAdoptError',
    message: 'cannot adopt +13122010000: none',
  });
  expect(new NumberInUseError('+14144007103', 'melvindale', 'medhanialem').message).toBe(
    'phoneNumber +14144007103 already routes to church medhanialem (church_voice_agents); a number rings one church only, ' +
      "so the row for melvindale was not written. Decommission the other church's line first, or correct the number.",
  );
});

it('AmbiguousHeldNumbersError lists the numbers held; NumberUnavailableError says what was searched', () => {
  const held = [
    { phoneNumber: '+14144007103', id: '1' },
    { phoneNumber: '+14144007104', id: '2' },
  ];
  expect(new AmbiguousHeldNumbersError('grace', held).message).toBe(
    'church grace already holds 2 numbers with customer_reference grace (+14144007103 id 1, +14144007104 id 2): refusing ' +
      'to guess which one this resource is; adopt one with adoptId, nothing was bought',
  );
  expect(new NumberUnavailableError({ churchId: 'church-262', areaCode: '262', offered: 2 }).message).toBe(
    'no local voice number is available in area code 262 (2 offered, none an exact non-555 local match): nothing was ' +
      'bought for church church-262. Near matches (best_effort) and 555 numbers are never ordered; pick another area code',
  );
  expect(new NumberUnavailableError({ churchId: 'church-608', areaCode: '608', offered: 0 }).message).toMatch(
    /^no local voice number is available in area code 608: nothing was bought for church church-608\. /,
  );
  expect(new NumberUnavailableError({ churchId: 'c', areaCode: '414', phoneNumber: '+14142019999' }).message).toBe(
    'phoneNumber +14142019999 is not available to order at Telnyx (an exact local voice search in area code 414 did not ' +
      'return it); nothing was bought',
  );
  expect(
    new UnknownConnectionError(
      '1999999999999999999',
      'telnyx GET /fqdn_connections/1999999999999999999 failed: HTTP 404',
    ).message,
  ).toBe(
    'connectionId 1999999999999999999 is not an FQDN connection of this Telnyx account (telnyx GET ' +
      '/fqdn_connections/1999999999999999999 failed: HTTP 404); nothing was bought. Numbers join the existing connection, ' +
      'none is ever created',
  );
});

it('ringLine refuses a bad number before any vendor is called, naming each input', async () => {
  const unreachable = () => {
    throw new Error('no vendor may be called');
  };
  const request = {
    phoneNumber: '4144007103',
    from: '+13125550123',
    churchId: '',
    expectedTrunkId: 'ST_LWgmiBSwTk7P',
    timeoutMs: 1000,
    telnyx: new Proxy({}, { get: unreachable }),
    livekit: new Proxy({}, { get: unreachable }),
  } as unknown as RingLineRequest;
  const ring = ringLine(request);
  await expect(ring).rejects.toBeInstanceOf(InvalidInputError);
  await expect(ring).rejects.toMatchObject({
    operation: 'ringLine',
    failures: [{ property: 'phoneNumber' }, { property: 'from' }, { property: 'churchId' }],
  });
  await expect(ring).rejects.toThrow(
    /^ringLine: phoneNumber must be an E\.164 number with a leading "\+".*; from \+13125550123 is a 555 number/,
  );
});
