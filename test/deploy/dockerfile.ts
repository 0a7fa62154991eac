import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** The stages of a Dockerfile: comments dropped, continuation lines joined, ops upper-cased. */
export function parseDockerfile(path: string): Stage[] {
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*\S)\s*$/.exec(line);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const [from, as, name] = args.split(/\s+/);
      stages.push({ from: from!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`${path}: ${op} before FROM`);
      stage.instructions.push({ op, args });
    }
  }
  return stages;
}

export interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

/** A COPY's --from and paths (shell form; --chown/--chmod and other flags are skipped). */
export function parseCopy(args: string): Copy {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/**
 * Whether .dockerignore keeps `path` (relative to the context) out of the build context:
 * the last pattern matching the path or one of its parent directories decides, `!` re-includes.
 */
export function dockerignored(patterns: string[], path: string): boolean {
  const parts = path.split('/');
  let excluded = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const re = globToRegExp(clean(negate ? raw.slice(1) : raw));
    for (let i = 1; i <= parts.length; i++) {
      if (re.test(parts.slice(0, i).join('/'))) {
        excluded = !negate;
        break;
      }
    }
  }
  return excluded;
}

export function dockerignorePatterns(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function clean(pattern: string): string {
  return pattern.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const slash = glob[i + 2] === '/';
      re += slash ? '(?:.*/)?' : '.*';
      i += slash ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
