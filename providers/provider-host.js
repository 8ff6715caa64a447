// @ts-check
/**
 * What runs behind every dynamic resource's serialized shim (providers/dynamic-provider.ts) in the provider process
 * the engine starts. The shim itself only finds this project and calls load(); everything else lives here, on disk,
 * because the shim's text is stored in the state once per resource (as a secret): every line in it is paid for in
 * every checkpoint write, state load and export, a thousand times over at 200 churches.
 *
 * Plain JavaScript: this is what makes the project's TypeScript loadable in that process.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { freshBuild } = require('../common/compiled-build');

/** Global names shared with providers/shared-reads.ts (SHARED_READS_FLAG, SHARED_LISTS_STORE). */
const SHARED_READS_FLAG = '__churchwiseSharedReads';
const SHARED_LISTS_STORE = '__churchwiseSharedLists';
/** Set once the .ts loader is in place (also by older shims, which installed the same loader). */
const TYPESCRIPT_FLAG = '__churchwiseTypeScript';

const sha256 = (/** @type {string} */ text) => crypto.createHash('sha256').update(text).digest('hex');

/**
 * The provider modules are TypeScript. Each is transpiled (what ts-node's transpile-only does: TypeScript's
 * transpileModule with the project's compiler options) once per version of its source and kept under
 * node_modules/.cache, so a provider process starts without loading the TypeScript compiler at all: ts-node loaded
 * it and transpiled every module on every engine run, about 0.7 s before the first resource step.
 * @param {string} root
 */
function enableTypeScript(root) {
  const global = /** @type {Record<string, unknown>} */ (globalThis);
  if (global[TYPESCRIPT_FLAG]) return;
  const tsconfigText = fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8');
  const typescriptDir = path.join(root, 'node_modules', 'typescript');
  const tsVersion = JSON.parse(fs.readFileSync(path.join(typescriptDir, 'package.json'), 'utf8')).version;
  const cacheDir = path.join(root, 'node_modules', '.cache', 'churchwise-voice-providers');
  /** @type {Record<string, unknown> | undefined} */
  let compilerOptions;
  const transpile = (/** @type {string} */ source, /** @type {string} */ fileName) => {
    const ts = require(typescriptDir);
    compilerOptions ??= ts.convertCompilerOptionsFromJson(
      ts.parseConfigFileTextToJson('tsconfig.json', tsconfigText).config.compilerOptions,
      root,
    ).options;
    const options = { ...compilerOptions, sourceMap: false, inlineSourceMap: true, inlineSources: false };
    return ts.transpileModule(source, { fileName, compilerOptions: options }).outputText;
  };
  require.extensions['.ts'] = (module, fileName) => {
    const source = fs.readFileSync(fileName, 'utf8');
    // Last line of a cached module: the hash of everything its output depends on.
    const hash = sha256(`${tsVersion}\0${tsconfigText}\0${fileName}\0${source}`);
    const stamp = `\n// churchwise-voice transpiled ${hash}\n`;
    const cached = path.join(cacheDir, `${sha256(fileName).slice(0, 40)}.js`);
    let js;
    try {
      const text = fs.readFileSync(cached, 'utf8');
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
    /** @type {any} */ (module)._compile(js, fileName);
  };
  process.setSourceMapsEnabled(true);
  global[TYPESCRIPT_FLAG] = true;
}

/**
 * The module's provider with every method present (the engine's defaults where it has none), reads sharing one list
 * per vendor account (providers/shared-reads.ts), and every write forgetting those lists before and after it runs.
 * @param {import('@pulumi/pulumi').dynamic.ResourceProvider} impl
 * @returns {Required<import('@pulumi/pulumi').dynamic.ResourceProvider>}
 */
function hosted(impl) {
  const global = /** @type {Record<string, any>} */ (globalThis);
  const forget = () => global[SHARED_LISTS_STORE]?.clear();
  /** @template T @param {() => Promise<T>} work @returns {Promise<T>} */
  const write = async (work) => {
    forget();
    try {
      return await work();
    } finally {
      forget();
    }
  };
  return {
    configure: async (req) => impl.configure?.(req),
    check: async (olds, news) => withoutSecretValues(impl.check ? await impl.check(olds, news) : { inputs: news }),
    diff: async (id, olds, news) => (impl.diff ? impl.diff(id, olds, news) : {}),
    create: (inputs) => write(() => impl.create(inputs)),
    read: async (id, props) => {
      global[SHARED_READS_FLAG] = true;
      return impl.read ? impl.read(id, props) : { id, props };
    },
    update: async (id, olds, news) =>
      impl.update ? write(() => /** @type {any} */ (impl.update)(id, olds, news)) : { outs: news },
    delete: (id, props) => write(async () => impl.delete?.(id, props)),
  };
}

/** Any spelling of a credential input: authPassword, auth_password, apiKey, secret, token, pin... */
const CREDENTIAL_LIKE_KEY = /auth|user|pass|pwd|credential|secret|realm|login|token|apikey|key$|pin$/;

/**
 * The engine prints a failure with a property as "property authPassword value {hunter2} has a problem": the
 * refused value itself. A failure on a credential-like input is handed over without its property, which the
 * engine prints as "has a problem: <reason>"; the reason already names the field and the rule, never the value.
 * @param {import('@pulumi/pulumi').dynamic.CheckResult} result
 */
function withoutSecretValues(result) {
  if (!result.failures?.length) return result;
  const looksSecret = (/** @type {string} */ property) =>
    CREDENTIAL_LIKE_KEY.test(property.toLowerCase().replace(/\[\d+\]|[^a-z0-9]/g, ''));
  return {
    ...result,
    failures: result.failures.map((failure) =>
      looksSecret(failure.property)
        ? { property: '', reason: `input ${failure.property}: ${failure.reason}` }
        : failure,
    ),
  };
}
exports.withoutSecretValues = withoutSecretValues;

/** @type {Map<string, Required<import('@pulumi/pulumi').dynamic.ResourceProvider>>} */
const providers = new Map();

/**
 * The provider of `providers/<moduleName>.ts` (its export `provider`), hosted.
 * @param {string} root the project folder
 * @param {string} moduleName
 */
exports.load = function load(root, moduleName) {
  let provider = providers.get(moduleName);
  if (!provider) {
    // The compiled build (npm run build) when it was built from exactly the sources on disk: plain node, no
    // transpiler. Otherwise the TypeScript itself, a development convenience.
    // A module the build does not have (a test's own provider, outside the product) is loaded from its TypeScript.
    const dist = freshBuild(root);
    const compiled = dist && path.join(dist, 'providers', moduleName);
    const runCompiled = compiled !== undefined && fs.existsSync(`${compiled}.js`);
    if (!runCompiled) enableTypeScript(root);
    provider = hosted(require(runCompiled ? compiled : path.join(root, 'providers', moduleName)).provider);
    providers.set(moduleName, provider);
  }
  return provider;
};
