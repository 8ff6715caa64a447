/**
 * The targets of a run for some churches (stacks/provisioning-run.ts churchTargets), matched the way the engine
 * matches them: a literal must be a URN exactly; in a glob `*` is `[^:]*` and `**` is `.*` (pulumi's UrnTargets).
 */
import { churchTargets } from '../../stacks/provisioning-run';
import { RESOURCE_KINDS } from '../../providers/resource-kinds';

function engineMatches(target: string, urn: string): boolean {
  if (!target.includes('*')) return target === urn;
  const pattern = target
    .split('**')
    .map((part) =>
      part
        .split('*')
        .map((text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('[^:]*'),
    )
    .join('.*');
  return new RegExp(`^${pattern}$`).test(urn);
}

const urn = (stack: string, name: string, type?: string) =>
  `urn:pulumi:${stack}::churchwise-voice::churchwise:voice:ChurchVoiceLine${type ? `$${type}` : ''}::${name}`;

describe('the targets of a run for some churches', () => {
  const targets = churchTargets('prod-shard-002', ['grace', 'grace-ring']);
  const targeted = (u: string) => targets.some((t) => engineMatches(t, u));

  test("each church's line and every child kind it may have are targeted", () => {
    for (const id of ['grace', 'grace-ring']) {
      expect(targeted(urn('prod-shard-002', `church-${id}`))).toBe(true);
      for (const kind of RESOURCE_KINDS)
        expect(targeted(urn('prod-shard-002', `church-${id}${kind.nameSuffix}`, kind.type))).toBe(true);
    }
  });

  test('nothing else: not another church, not one whose id starts the same, not another stack, not the stack itself', () => {
    const others = churchTargets('prod-shard-002', ['grace']);
    const onlyGrace = (u: string) => others.some((t) => engineMatches(t, u));
    const ring = RESOURCE_KINDS.find((k) => k.nameSuffix === '-ring')!;
    expect(onlyGrace(urn('prod-shard-002', 'church-grace-ring-ring', ring.type))).toBe(false);
    expect(onlyGrace(urn('prod-shard-002', 'church-gracious'))).toBe(false);
    expect(onlyGrace(urn('prod-shard-003', 'church-grace'))).toBe(false);
    expect(
      onlyGrace('urn:pulumi:prod-shard-002::churchwise-voice::pulumi:pulumi:Stack::churchwise-voice-prod-shard-002'),
    ).toBe(false);
  });

  test('only the line itself is a literal (always declared): a child the line may not have never fails the run', () => {
    const literals = targets.filter((t) => !t.includes('*'));
    expect(literals).toEqual([urn('prod-shard-002', 'church-grace'), urn('prod-shard-002', 'church-grace-ring')]);
  });
});
