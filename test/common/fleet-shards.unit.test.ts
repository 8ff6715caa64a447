/** How shard stacks are named, and the rule a shard size follows (common/fleet-shards.ts). */
import { MAX_SHARD_SIZE, checkShardSize, shardOfStack, stackOfShard } from '../../common/fleet-shards';

describe('shard stack names', () => {
  test('a church without a shard is in the base stack; one with a shard in <base>-shard-NNN', () => {
    expect(stackOfShard('prod', null)).toBe('prod');
    expect(stackOfShard('prod', 0)).toBe('prod-shard-000');
    expect(stackOfShard('prod', 7)).toBe('prod-shard-007');
    expect(stackOfShard('prod', 1234)).toBe('prod-shard-1234');
  });

  test('a stack name says which shard it is, and round-trips', () => {
    expect(shardOfStack('prod-shard-007')).toEqual({ base: 'prod', shard: 7 });
    expect(shardOfStack('prod')).toEqual({ base: 'prod', shard: null });
    // A base stack whose own name has "-shard-" in it is still read by its last suffix only.
    expect(shardOfStack('my-shard-test-shard-012')).toEqual({ base: 'my-shard-test', shard: 12 });
    // Fewer than three digits is not a shard stack name (the base stack "prod-shard-1" stays a base stack).
    expect(shardOfStack('prod-shard-1')).toEqual({ base: 'prod-shard-1', shard: null });
    for (const shard of [0, 5, 99, 100, 4567])
      expect(shardOfStack(stackOfShard('dev', shard))).toEqual({ base: 'dev', shard });
  });

  test('a shard must be a whole number from 0', () => {
    expect(() => stackOfShard('prod', -1)).toThrow('shard must be a whole number from 0, got -1');
    expect(() => stackOfShard('prod', 1.5)).toThrow('shard must be a whole number from 0');
  });

  test('a shard size is a whole number of churches from 1 to the maximum, and the error names the field', () => {
    expect(checkShardSize('--size', 100)).toBeUndefined();
    expect(checkShardSize('--size', 1)).toBeUndefined();
    expect(checkShardSize('--size', MAX_SHARD_SIZE)).toBeUndefined();
    // Text is read as the CLI gives it: digits only.
    expect(checkShardSize('--size', '50')).toBeUndefined();
    for (const bad of [0, -3, 2.5, MAX_SHARD_SIZE + 1, Number.NaN, '5e1', ' ', 'fifty', undefined])
      expect(checkShardSize('--size', bad)).toBe(
        `--size must be a whole number of churches from 1 to ${MAX_SHARD_SIZE}, got ${JSON.stringify(bad)}`,
      );
  });
});
