import * as pulumi from '@pulumi/pulumi';

/** The package name the shim looks for when it walks up from the engine's working directory. */
export const PROJECT_PACKAGE_NAME = 'churchwise-voice-infra';

/**
 * The provider object Pulumi serializes into the state for every dynamic resource of this project.
 *
 * Why a shim: Pulumi stores the serialized provider in the state and runs THAT copy later (refresh runs the old
 * code until the next `up`, pulumi/pulumi #6490), and closure serialization of our modules would capture clients,
 * env reads or credentials (#8265, #13960, #15485). The shim captures nothing but a module name: it finds this
 * project on disk and hands over to providers/provider-host.js, which loads the project's TypeScript (transpiled
 * once per source version, cached) and delegates to `providers/<moduleName>.ts`, whose export `provider` is the
 * real implementation. So the state holds no code of ours and no secret, and refresh, preview and up always run the
 * code that is checked out.
 *
 * One shim object per module, shared by every resource of that type: Pulumi serializes a provider once per object
 * (a WeakMap keyed by it), and closure serialization is slow and memory-hungry. A fresh object per resource made a
 * 200-church program serialize ~1000 providers on every run (seconds of CPU, ~1 GB of heap in the host).
 */
const shims = new Map<string, pulumi.dynamic.ResourceProvider>();

export function projectProvider(moduleName: string): pulumi.dynamic.ResourceProvider {
  let shim = shims.get(moduleName);
  if (!shim) {
    shim = projectProviderShim(moduleName);
    shims.set(moduleName, shim);
  }
  return shim;
}

/**
 * The functions below are serialized into the state once per resource: they may reference only their arguments,
 * globals and `require`, and they stay as short as possible (no comments inside them either: those are serialized
 * too). Finding the project is all they do; providers/provider-host.js does the rest.
 */
function projectProviderShim(moduleName: string): pulumi.dynamic.ResourceProvider {
  const load = (): Required<pulumi.dynamic.ResourceProvider> => {
    const hosts = ((globalThis as any).__churchwiseProviderHosts ??= {}) as Record<string, any>;
    if (hosts[moduleName]) return hosts[moduleName];
    const fs = require('fs');
    const path = require('path');
    let root: string = process.env.CHURCHWISE_VOICE_ROOT ?? process.cwd();
    const manifest = (dir: string) => path.join(dir, 'package.json');
    const isProject = (dir: string) =>
      fs.existsSync(manifest(dir)) &&
      JSON.parse(fs.readFileSync(manifest(dir), 'utf8')).name === 'churchwise-voice-infra';
    while (!isProject(root)) {
      if (path.dirname(root) === root) {
        throw new Error(
          `churchwise-voice-infra provider ${moduleName}: cannot find the project (package.json named ` +
            `churchwise-voice-infra) above ${process.cwd()}; run pulumi from the project or set CHURCHWISE_VOICE_ROOT`,
        );
      }
      root = path.dirname(root);
    }
    return (hosts[moduleName] = require(path.join(root, 'providers', 'provider-host.js')).load(root, moduleName));
  };
  return {
    configure: (req) => load().configure(req),
    check: (olds, news) => load().check(olds, news),
    diff: (id, olds, news) => load().diff(id, olds, news),
    create: (inputs) => load().create(inputs),
    read: (id, props) => load().read(id, props),
    update: (id, olds, news) => load().update(id, olds, news),
    delete: (id, props) => load().delete(id, props),
  };
}
