/** Runs once before the suite: refuses to run on a Node too old for @pulumi/pulumi and supabase-js. */
export default async function globalSetup(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new Error(
      `Node ${process.versions.node} is too old (need >= 22): run scripts/tools.sh, then ` +
        '`eval "$(scripts/tools.sh --print)"` to put Node 24 first on PATH',
    );
  }
}
