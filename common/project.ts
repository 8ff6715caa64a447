import * as fs from 'fs';
import * as path from 'path';

/**
 * This project's folder (the one with package.json and Pulumi.yaml), found from this file whether it runs as
 * TypeScript (common/) or compiled (dist/common/).
 */
export const PROJECT_ROOT = findProjectRoot(__dirname);

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'Pulumi.yaml')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir)
      throw new Error(`cannot find the project (Pulumi.yaml and package.json) above ${from}`);
  }
}
