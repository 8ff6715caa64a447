import * as pulumi from '@pulumi/pulumi';

/** The package name the shim looks for when it walks up from the engine's working directory. */
export const PROJECT_PACKAGE_NAME = 'churchwise-voice-infra';

/**
 * The provider object Pulumi serializes into the state for every dynamic resource of this project.
 *
 * Why a shim: Pulumi stores the serialized provider in the state and runs THAT copy later (refresh runs the old
 * code until the next `up`, pulumi/pulumi #6490), and closure serialization of our modules would capture clients,
 * env reads or credentials (#8265, #13960, #15485). The shim captures nothing but a module name: each call finds
 * this project on disk, loads its TypeScript (transpiled once per source version, cached), and delegates to
 * `providers/<moduleName>.ts`, whose export `provider` is the real implementation. So the state holds no code of
 * ours and no secret, and refresh, preview and up always run the code that is checked out.
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

/** The functions below are serialized: they may reference only their arguments, globals and `require`. */
function projectProviderShim(moduleName: string): pulumi.dynamic.ResourceProvider {
  const load = (): pulumi.dynamic.ResourceProvider => {
    const registry = ((globalThis as any).__churchwiseProviders ??= {}) as Record<string, any>;
    if (registry[moduleName]) return registry[moduleName];
    const fs = require('fs');
    const path = require('path');
    let root: string = process.env.CHURCHWISE_VOICE_ROOT ?? process.cwd();
    for (let dir = root; ; dir = path.dirname(dir)) {
      const manifest = path.join(dir, 'package.json');
      if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'churchwise-voice-infra') {
        root = dir;
        break;
      }
      if (path.dirname(dir) === dir) {
        throw new Error(
          `churchwise-voice-infra provider ${moduleName}: cannot find the project (package.json named ` +
            `churchwise-voice-infra) above ${process.cwd()}; run pulumi from the project or set CHURCHWISE_VOICE_ROOT`,
        );
      }
    }
    if (!(globalThis as any).__churchwiseTypeScript) {
      // The provider modules are TypeScript. Each is transpiled (what ts-node's transpile-only does: TypeScript's
      // transpileModule with the project's compiler options) once per version of its source and kept under
      // node_modules/.cache, so a provider process starts without loading the TypeScript compiler at all: ts-node
      // loaded it and transpiled every module on every engine run, about 0.7 s before the first resource step.
      const crypto = require('crypto');
      const tsconfigText: string = fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8');
      const typescriptDir = path.join(root, 'node_modules', 'typescript');
      const tsVersion: string = JSON.parse(fs.readFileSync(path.join(typescriptDir, 'package.json'), 'utf8')).version;
      const cacheDir = path.join(root, 'node_modules', '.cache', 'churchwise-voice-providers');
      const sha256 = (text: string) => crypto.createHash('sha256').update(text).digest('hex');
      let compilerOptions: any;
      const transpile = (source: string, fileName: string): string => {
        const ts = require(typescriptDir);
        compilerOptions ??= ts.convertCompilerOptionsFromJson(ts.parseConfigFileTextToJson('tsconfig.json', tsconfigText).config.compilerOptions, root).options;
        const options = { ...compilerOptions, sourceMap: false, inlineSourceMap: true, inlineSources: false };
        return ts.transpileModule(source, { fileName, compilerOptions: options }).outputText;
      };
      require.extensions['.ts'] = (module: any, fileName: string) => {
        const source: string = fs.readFileSync(fileName, 'utf8');
        // Last line of a cached module: the hash of everything its output depends on.
        const stamp = `\n// churchwise-voice transpiled ${sha256(`${tsVersion}\0${tsconfigText}\0${fileName}\0${source}`)}\n`;
        const cached = path.join(cacheDir, `${sha256(fileName).slice(0, 40)}.js`);
        let js: string | undefined;
        try {
          const text: string = fs.readFileSync(cached, 'utf8');
          if (text.endsWith(stamp)) js = text;
        } catch {
          // not transpiled yet
        }
        if (js === undefined) {
          js = transpile(source, fileName) + stamp;
          try {
            fs.mkdirSync(cacheDir, { recursive: true });
            const partial = `${cached}.${process.pid}.tmp`;
            fs.writeFileSync(partial, js);
            fs.renameSync(partial, cached); // atomic: a provider process starting beside this one never reads half
          } catch {
            // a read-only install still runs, transpiling on every start
          }
        }
        module._compile(js, fileName);
      };
      process.setSourceMapsEnabled(true);
      (globalThis as any).__churchwiseTypeScript = true;
    }
    registry[moduleName] = require(path.join(root, 'providers', moduleName)).provider;
    return registry[moduleName];
  };
  // Reads through the engine share one list per vendor account (providers/shared-reads.ts; the global names are
  // its SHARED_READS_FLAG and SHARED_LISTS_STORE). Any write forgets every list, before and after it runs.
  const write = async <T>(work: () => Promise<T>): Promise<T> => {
    const forget = () => (globalThis as any).__churchwiseSharedLists?.clear();
    forget();
    try {
      return await work();
    } finally {
      forget();
    }
  };
  return {
    configure: async (req) => load().configure?.(req),
    check: async (olds, news) => {
      const impl = load();
      return impl.check ? impl.check(olds, news) : { inputs: news };
    },
    diff: async (id, olds, news) => {
      const impl = load();
      return impl.diff ? impl.diff(id, olds, news) : {};
    },
    create: async (inputs) => write(() => load().create(inputs)),
    read: async (id, props) => {
      const impl = load();
      (globalThis as any).__churchwiseSharedReads = true;
      return impl.read ? impl.read(id, props) : { id, props };
    },
    update: async (id, olds, news) => {
      const impl = load();
      return impl.update ? write(() => impl.update!(id, olds, news)) : { outs: news };
    },
    delete: async (id, props) => write(async () => load().delete?.(id, props)),
  };
}
