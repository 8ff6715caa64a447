/** A command line the founder's CLI cannot run: printed with the usage, exit code 1. */
export class UsageError extends Error {}
