// Bench only (preloaded with --require into an engine-run host): V8's own stack-trace formatting instead of the
// source-map support ts-node installs, as a host running compiled JavaScript would have. The Pulumi SDK captures a
// stack trace for every promise and resource it tracks, and source-mapping each one is a large share of a big
// stack's run; this measures that share. Assignments by source-map-support are ignored.
Object.defineProperty(Error, 'prepareStackTrace', { get: () => undefined, set: () => {}, configurable: true });
