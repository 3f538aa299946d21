import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The launcher's C source, wherever this module was compiled to (the benchmark builds it into dist-bench). */
const SOURCE = resolve(repositoryRoot(import.meta.dirname), 'test/helpers/kafka-mock.c');
const MOCK_HEADER = '/usr/include/librdkafka/rdkafka_mock.h';

/**
 * A Kafka cluster of librdkafka's mock brokers in a child process: real Kafka protocol on loopback,
 * no JVM. Broker ids are 1..N, `brokers[i]` being broker i + 1. What tests must know of it:
 * - `createTopic`'s partition p is led by broker `p % N + 1`, so a test knows what `brokerDown` takes
 *   away. A topic a client produces to or asks metadata for is created on the fly (kafkajs's
 *   `allowAutoTopicCreation: false` does not prevent it) with 4 partitions and random leaders.
 * - A group's coordinator is broker `crc32(groupId) % N + 1`; while it is down the group is stuck.
 * - A group's first join takes 3 s; any later rebalance waits `sessionTimeout - 1000` ms, hence
 *   small session timeouts in tests. A fetch with nothing to return waits all of `maxWaitTimeInMs`,
 *   and a fetch returns one producer request's messages per partition.
 * - No CreateTopics, DeleteTopics, DescribeGroups or ListGroups (nor admin calls built on them).
 */
export interface KafkaMock {
  /** Bootstrap addresses, `127.0.0.1:port`, one per broker in id order. */
  readonly brokers: string[];
  createTopic(name: string, partitions: number): Promise<void>;
  /** Closes the broker's connections and refuses new ones; its partitions keep it as leader, so they are unavailable until `brokerUp`. */
  brokerDown(id: number): Promise<void>;
  brokerUp(id: number): Promise<void>;
  stop(): Promise<void>;
}

function repositoryRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** Every mock a test started: none may outlive the test run, whatever happened to the test. */
const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

/** The mock's headers come with librdkafka-dev; as root (CI containers) we install it, else we say what is missing. */
async function ensureLibrdkafka(): Promise<void> {
  if (existsSync(MOCK_HEADER)) return;
  if (process.getuid?.() !== 0) throw new Error(`the Kafka mock needs ${MOCK_HEADER}: install librdkafka-dev (apt-get install librdkafka-dev)`);
  const install = () => run('apt-get', ['install', '-y', '-q', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=120', 'librdkafka-dev']);
  await install().catch(async () => {
    await run('apt-get', ['update', '-q']);
    await install();
  });
}

/**
 * The compiled mock, built once per machine for each version of its source. Concurrent test
 * workers each compile to a name of their own and rename, so none runs a half-written binary.
 */
async function mockBinary(): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'ferry-kafka-mock');
  const binary = join(dir, `kafka-mock-${hash}`);
  if (existsSync(binary)) return binary;
  await ensureLibrdkafka();
  mkdirSync(dir, { recursive: true });
  const temp = `${binary}.${process.pid}.tmp`;
  await run('gcc', ['-O2', '-o', temp, SOURCE, '-lrdkafka']);
  renameSync(temp, binary);
  return binary;
}

/** Starts a mock cluster of `brokers` brokers (3 unless told); resolves once it listens. */
export async function startKafkaMock(options: { brokers?: number } = {}): Promise<KafkaMock> {
  const child = spawn(await mockBinary(), [String(options.brokers ?? 3)], { stdio: ['pipe', 'pipe', 'pipe'] });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  // A mock that died shows as the end of its output (`nextLine` says so); writing to it must not also crash the test process.
  child.stdin!.on('error', () => {});
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();

  const nextLine = async (): Promise<string> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`the Kafka mock exited: ${stderr}`);
    return value;
  };
  const greeting = await nextLine();
  const brokers = /^bootstrap (\S+)$/.exec(greeting)?.[1]?.split(',');
  if (!brokers) throw new Error(`the Kafka mock said ${greeting}`);

  /** One command at a time: a reply line answers the command written before it. */
  let previous = Promise.resolve();
  const command = (line: string): Promise<void> => {
    const reply = previous.then(async () => {
      child.stdin!.write(`${line}\n`);
      const answer = await nextLine();
      if (answer !== 'ok') throw new Error(`Kafka mock: ${line}: ${answer}`);
    });
    previous = reply.catch(() => {});
    return reply;
  };

  return {
    brokers,
    createTopic: (name, partitions) => command(`create ${name} ${partitions}`),
    brokerDown: (id) => command(`down ${id}`),
    brokerUp: (id) => command(`up ${id}`),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((res) => child.once('exit', res));
      child.stdin!.end();
      await exited;
    },
  };
}
