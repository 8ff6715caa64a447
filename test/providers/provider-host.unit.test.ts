/**
 * What the provider host does around every provider's check: a refused credential input is reported without its
 * property, because the engine prints a property's failure with the refused value itself. No network.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { withoutSecretValues } = require('../../providers/provider-host.js') as {
  withoutSecretValues: (result: { inputs?: unknown; failures?: Array<{ property: string; reason: string }> }) => {
    failures?: Array<{ property: string; reason: string }>;
  };
};

describe('withoutSecretValues', () => {
  it('hands over a credential input failure without its property, naming the field and the rule in the reason', () => {
    const result = withoutSecretValues({
      inputs: {},
      failures: [{ property: 'authPassword', reason: 'LiveKit trunks for Telnyx must have NO authentication (input authPassword refused)' }],
    });
    expect(result.failures).toEqual([
      { property: '', reason: 'input authPassword: LiveKit trunks for Telnyx must have NO authentication (input authPassword refused)' },
    ]);
  });

  it.each(['authPassword', 'auth_username', 'AuthRealm', 'apiKey', 'serviceKey', 'secret', 'token', 'pin', 'credentials[0]'])(
    'treats %s as a credential',
    (property) => {
      expect(withoutSecretValues({ failures: [{ property, reason: 'refused' }] }).failures?.[0].property).toBe('');
    },
  );

  it('keeps the property of every other failure (its value helps the founder and is no secret)', () => {
    const failures = [
      { property: 'numbers[0]', reason: 'numbers[0] must be E.164' },
      { property: 'areaCode', reason: 'areaCode must be 3 digits' },
      { property: 'adoptId', reason: 'locked' },
    ];
    expect(withoutSecretValues({ failures }).failures).toEqual(failures);
  });
});
