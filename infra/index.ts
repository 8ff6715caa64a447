// Entry point of `pulumi up` / `pulumi preview` on the prod and dev stacks. The Automation API (stacks/) runs the
// same function as an inline program, so the founder's CLI and the webhook always run one program.
import { voiceLinesProgram } from './program';

export = voiceLinesProgram();
