import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql, { type RowDataPacket } from 'mysql2/promise';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { MysqlPipelineLock } from '../../src/checkpoint/mysql-pipeline-lock.js';
import { ensureMysqlCheckpointTables } from '../../src/checkpoint/mysql-checkpoint-table.js';
import { waitFor } from '../helpers/ferry.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const PIPELINE = 'lock_self';
const LOCK = `ferry:${createHash('sha1').update(PIPELINE).digest('hex')}`;

/**
 * The pipeline lock on a MySQL/MariaDB target (src/checkpoint/mysql-pipeline-lock.ts) never takes its
 * own process for another, whenever the server lets go of a closed session; a second process is still
 * turned away. The lock's connection goes through a proxy that holds or breaks it at the point in question.
 */
describe('the MySQL/MariaDB pipeline lock', () => {
  const url = inject('mariadbUrl');
  let admin: mysql.Connection;
  let proxy: TcpProxy;
  let viaProxy: string;
  const locks: MysqlPipelineLock[] = [];
  const lock = (at = viaProxy) => {
    const l = new MysqlPipelineLock(at, PIPELINE);
    locks.push(l);
    return l;
  };
  const lockFree = async () => {
    const [rows] = await admin.query<RowDataPacket[]>('SELECT IS_FREE_LOCK(?) AS free', [LOCK]);
    return Number(rows[0]!.free) === 1;
  };

  beforeAll(async () => {
    admin = await mysql.createConnection({ uri: url });
    await ensureMysqlCheckpointTables(admin);
  });
  afterAll(() => admin.end());
  beforeEach(async () => {
    proxy = await startProxy(Number(new URL(url).port));
    const u = new URL(url);
    u.port = String(proxy.port);
    viaProxy = u.toString();
  });
  afterEach(async () => {
    await Promise.all(locks.splice(0).map((l) => l.release()));
    await proxy.close();
  });

  it('is free for the next claim once release() resolves, however late the server hears the connection close', async () => {
    const stream = lock();
    await stream.acquire();
    // The stream stops while its goodbye cannot reach the server yet; the network heals a moment later.
    proxy.blackhole();
    const released = stream.release().then(lockFree);
    void sleep(500).then(() => proxy.restore());
    expect(await released).toBe(true);
    // The cutover's claim, on a connection of its own, right after the stream stopped.
    await expect(lock(url).acquire()).resolves.toBeUndefined();
  });

  it('takes its lock back from its own lost session that the server still keeps, and still turns another process away', async () => {
    const own = lock();
    await own.acquire();
    proxy.sever();
    expect(await lockFree()).toBe(false);
    await own.acquire();
    await expect(lock(url).acquire()).rejects.toThrow(`another ferry process is already running pipeline ${PIPELINE}`);
  });

  it('turns a process away whose lost session let the lock go to another process', async () => {
    const own = lock();
    await own.acquire();
    const [rows] = await admin.query<RowDataPacket[]>('SELECT IS_USED_LOCK(?) AS id', [LOCK]);
    proxy.sever();
    await admin.query(`KILL ${Number(rows[0]!.id)}`);
    await waitFor('the server to drop the lost session', lockFree, 10_000);
    await lock(url).acquire();
    await expect(own.acquire()).rejects.toThrow(`another ferry process is already running pipeline ${PIPELINE}`);
  });
});
