/**
 * `node dist/report/profile-summary.js [dir|file.cpuprofile ...] [--top N]`: prints
 * the functions with the most self time in V8 CPU profiles written by
 * `node --cpu-prof` (e.g. by `run.js --cpu-prof`), one table per profile.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** A V8 CPU profile (`.cpuprofile`, or `Profiler.stop`'s result). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

/** One function's share of a profile. */
export interface FunctionCost {
  name: string;
  location: string;
  selfMs: number;
  selfPercent: number;
}

function shortUrl(url: string): string {
  const clean = url.replace(/^file:\/\//, '');
  const i = clean.indexOf('node_modules/.pnpm/');
  if (i >= 0) return clean.slice(i + 'node_modules/.pnpm/'.length).replace(/^[^/]+\/node_modules\//, '');
  const p = clean.indexOf('/packages/');
  if (p >= 0) return clean.slice(p + 1);
  const b = clean.indexOf('/bench/');
  if (b >= 0) return clean.slice(b + 1);
  return clean || '(native)';
}

/** Self time per function (by name and location), highest first. */
export function summarizeProfile(profile: CpuProfile): FunctionCost[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const total = profile.endTime - profile.startTime;
  const agg = new Map<string, FunctionCost>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n === undefined) continue;
    const name = n.callFrame.functionName || '(anonymous)';
    const location = n.callFrame.url === '' ? '' : `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    const key = `${name} ${location}`;
    const cur = agg.get(key) ?? { name, location, selfMs: 0, selfPercent: 0 };
    cur.selfMs += us / 1000;
    cur.selfPercent = (cur.selfMs * 1000 * 100) / total;
    agg.set(key, cur);
  }
  return [...agg.values()].sort((a, b) => b.selfMs - a.selfMs);
}

async function files(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const a of args) {
    if ((await stat(a)).isDirectory())
      out.push(...(await readdir(a)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(a, f)));
    else out.push(a);
  }
  return out;
}

async function main(argv: string[]): Promise<void> {
  const topIdx = argv.indexOf('--top');
  const top = topIdx >= 0 ? Number(argv[topIdx + 1]) : 25;
  const paths = argv.filter((a, i) => a !== '--top' && i !== topIdx + 1);
  for (const file of await files(paths.length > 0 ? paths : ['profiles'])) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const rows = summarizeProfile(profile);
    const totalMs = (profile.endTime - profile.startTime) / 1000;
    console.log(`\n${relative(process.cwd(), file) || basename(file)} — ${totalMs.toFixed(0)} ms profiled`);
    for (const r of rows.slice(0, top))
      console.log(
        `${r.selfPercent.toFixed(1).padStart(5)} %  ${r.selfMs.toFixed(0).padStart(6)} ms  ${r.name}  ${r.location}`,
      );
  }
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(basename(process.argv[1]))) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
