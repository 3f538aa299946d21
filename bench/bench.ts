import { execFileSync } from 'node:child_process';
import { cpus, totalmem, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { backlogFor } from './data.js';
import { drainArms } from './drain-arms.js';
import { kafkaArm } from './kafka-arm.js';
import { latencyArms } from './latency-arms.js';
import { memoryArm } from './memory-arm.js';
import { ensurePeers, versionOf } from './processes.js';
import { race } from './race.js';
import { Results } from './results.js';
import { startServers, stopServers } from './servers.js';
import { buildSnapshotData, snapshotArms } from './snapshot-arms.js';
import { targets } from './targets.js';
import { upsertArm } from './upsert-arm.js';

const ARMS = ['snapshot', 'drain', 'upserts', 'kafka', 'latency', 'memory'] as const;

const { values: opts } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '2' },
    'latency-seconds': { type: 'string', default: '60' },
    only: { type: 'string', default: ARMS.join(',') },
    quick: { type: 'boolean', default: false },
  },
});
const rows = opts.quick ? 100_000 : Number(opts.rows);
const runs = Math.max(2, Number(opts.runs));
const latencySeconds = opts.quick ? 10 : Number(opts['latency-seconds']);
const only = new Set(opts.only!.split(','));

// The peer tools (pgloader, pgcopydb, sysbench) are needed by the snapshot and latency arms only.
if (only.has('snapshot') || only.has('latency')) ensurePeers();
const root = resolve(import.meta.dirname, '../..');
const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root }).toString().trim() !== '';
const started = new Date();
console.log(`ferry benchmark · ${rows.toLocaleString('en-US')} rows · ${runs} runs per arm · commit ${commit}${dirty ? ' (uncommitted changes)' : ''}`);

const servers = await startServers();
const results = new Results();
try {
  if (only.has('snapshot')) {
    console.log('building the snapshot data …');
    await buildSnapshotData(servers, rows);
    for (const arm of snapshotArms(servers, rows)) await race(arm, runs, results);
  }
  if (only.has('drain')) for (const arm of drainArms(servers, rows)) await race(arm, runs, results);
  if (only.has('upserts')) await race(upsertArm(servers, backlogFor(rows).updates), runs, results);
  if (only.has('kafka')) {
    const kafka = kafkaArm(servers, rows);
    try {
      await race(kafka.arm, runs, results);
    } finally {
      await kafka.close();
    }
  }
  if (only.has('latency')) await latencyArms(servers, { seconds: latencySeconds, runs, results });
  if (only.has('memory')) await memoryArm(servers, { rows, runs, results });
} finally {
  await stopServers(servers);
}

const report = results.table();
const verdicts = targets(results);
console.log(`\n${report}\n\n${verdicts.map((t) => `${t.met ? 'met ' : 'MISS'}  ${t.text}`).join('\n')}`);

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  node: process.version,
  mariadb: versionOf('mariadbd') ?? versionOf('/usr/sbin/mariadbd'),
  postgres: versionOf('psql'),
  pgloader: versionOf('pgloader'),
  pgcopydb: versionOf('pgcopydb', ['--version']),
  sysbench: versionOf('sysbench'),
  pgbench: versionOf('pgbench'),
};
const dir = join(root, 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = join(dir, `${started.toISOString().slice(0, 10)}-${commit}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ date: started.toISOString(), commit, dirty, rows, runs, latencySeconds, machine, figures: results.figures, targets: verdicts }, null, 2)}\n`,
);
console.log(`\nwritten to bench/results/${file.split('/').pop()}`);
