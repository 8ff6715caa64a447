/**
 * A shard stack's settings are its base stack's: `Pulumi.prod-shard-007.yaml` is written from `Pulumi.prod.yaml`
 * before the shard is opened, so one file configures the whole fleet and shards cannot drift apart. The copy keeps
 * the base's `encryptionsalt`, so its secrets decrypt with the same passphrase. A shard file changed by hand is
 * written over at the next run of that shard (its header says so); a fleet without a base file (settings from
 * Pulumi.yaml's defaults and the environment) gets no shard files either.
 */
import * as fs from 'fs';
import * as path from 'path';
import { shardOfStack } from '../common/fleet-shards';

const header = (base: string) =>
  `# Written from Pulumi.${base}.yaml by the fleet tooling before each run of this shard stack (engine/` +
  `shard-stack-config.ts).\n# Do not edit: change Pulumi.${base}.yaml, and every shard follows at its next run.\n`;

/** Writes the shard stack's config file from its base's when it differs; returns whether it wrote. */
export function ensureShardStackConfig(workDir: string, stackName: string): boolean {
  const { base, shard } = shardOfStack(stackName);
  if (shard === null) return false;
  const baseFile = path.join(workDir, `Pulumi.${base}.yaml`);
  if (!fs.existsSync(baseFile)) return false;
  const wanted = header(base) + fs.readFileSync(baseFile, 'utf8');
  const shardFile = path.join(workDir, `Pulumi.${stackName}.yaml`);
  if (fs.existsSync(shardFile) && fs.readFileSync(shardFile, 'utf8') === wanted) return false;
  // Written aside and renamed: a plain `pulumi preview` of this shard never reads half a file.
  const temporary = `${shardFile}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, wanted);
  fs.renameSync(temporary, shardFile);
  return true;
}
