import type { Connection } from 'mysql2/promise';

/**
 * The demo's source: the seed scenario's `contentsearchdb.metadata` table, with a spread of column
 * types, and a small `shop` orders schema. Rows are generated inside MariaDB (its SEQUENCE engine),
 * so seeding 100k rows takes a second or two.
 */
export async function createSampleData(conn: Connection, metadataRows: number): Promise<void> {
  await conn.query(`
    CREATE DATABASE contentsearchdb CHARACTER SET utf8mb4;
    USE contentsearchdb;
    CREATE TABLE contentsearchdb.metadata (
      id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
      doc_uuid CHAR(36) NOT NULL,
      title VARCHAR(255) NOT NULL,
      body TEXT,
      tags JSON,
      lang ENUM('en','de','fr','ja') NOT NULL,
      score DECIMAL(10,4),
      size_bytes INT UNSIGNED NOT NULL,
      flags BIT(8) NOT NULL,
      thumbnail VARBINARY(32),
      published DATE,
      created_at DATETIME(6) NOT NULL,
      updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
      KEY ix_lang_published (lang, published)
    );
    INSERT INTO contentsearchdb.metadata (doc_uuid, title, body, tags, lang, score, size_bytes, flags, thumbnail, published, created_at, updated_at)
    SELECT UUID(), CONCAT('Document ', seq, IF(seq % 97 = 0, ' — ünïcødé 🚢', '')),
           IF(seq % 13 = 0, NULL, REPEAT(CONCAT('lorem ipsum ', seq, ' '), 1 + seq % 5)),
           JSON_OBJECT('n', seq, 'even', seq % 2 = 0, 'tags', JSON_ARRAY('a', CONCAT('t', seq % 10))),
           ELT(1 + seq % 4, 'en', 'de', 'fr', 'ja'), ROUND(seq / 7, 4), seq * 31 % 1000000, seq % 256,
           UNHEX(MD5(seq)), DATE_ADD('2020-01-01', INTERVAL seq % 2000 DAY),
           DATE_ADD('2020-01-01 00:00:00.000001', INTERVAL seq SECOND), '2024-06-01 12:00:00.5'
      FROM seq_1_to_${Math.max(1, Math.floor(metadataRows))};

    CREATE DATABASE shop CHARACTER SET utf8mb4;
    USE shop;
    CREATE TABLE shop.customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL, created_at DATETIME NOT NULL);
    CREATE TABLE shop.orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, status ENUM('new','paid','shipped','cancelled') NOT NULL,
      total DECIMAL(12,2) NOT NULL, placed_at DATETIME(3) NOT NULL, KEY ix_customer (customer_id));
    CREATE TABLE shop.order_items (order_id BIGINT NOT NULL, line SMALLINT NOT NULL, sku VARCHAR(32) NOT NULL, qty INT NOT NULL, price DECIMAL(10,2) NOT NULL,
      PRIMARY KEY (order_id, line));
    INSERT INTO shop.customers (email, name, created_at) SELECT CONCAT('customer', seq, '@example.com'), CONCAT('Customer ', seq), '2023-01-01' + INTERVAL seq HOUR FROM seq_1_to_1000;
    INSERT INTO shop.orders (customer_id, status, total, placed_at) SELECT 1 + seq % 1000, 'paid', seq % 500 + 0.99, '2024-01-01' + INTERVAL seq MINUTE FROM seq_1_to_5000;
    INSERT INTO shop.order_items SELECT o.id, s.seq, CONCAT('SKU-', o.id % 300), 1 + s.seq, 4.50 * s.seq FROM shop.orders o JOIN seq_1_to_2 s;
  `);
}

/**
 * Writes a mix of small transactions until `signal` aborts: new orders, status changes, cancellations,
 * metadata edits. `onCommit` gets the GTID of every transaction the binlog recorded, as the source
 * numbers them (`@@last_gtid`): a statement that changed no row commits nothing there, and is not counted.
 * `conn` must be a session of its own: @@last_gtid is the session's.
 */
export async function runWriteLoad(conn: Connection, signal: AbortSignal, onCommit: (gtid: string) => void): Promise<void> {
  let last = '';
  const committed = async () => {
    const [rows] = await conn.query('SELECT @@last_gtid AS gtid');
    const gtid = String((rows as { gtid: string }[])[0]?.gtid ?? '');
    if (gtid !== last) onCommit((last = gtid));
  };
  const autocommit = async (sql: string, params: unknown[]) => {
    await conn.query(sql, params);
    await committed();
  };
  let n = 0;
  while (!signal.aborted) {
    n++;
    await conn.query('START TRANSACTION');
    const [res] = await conn.query('INSERT INTO shop.orders (customer_id, status, total, placed_at) VALUES (?, ?, ?, NOW(3))', [
      1 + (n % 1000),
      'new',
      (n % 300) + 0.5,
    ]);
    const orderId = (res as { insertId: number }).insertId;
    await conn.query('INSERT INTO shop.order_items VALUES (?, 1, ?, 1, 9.90), (?, 2, ?, 2, 19.90)', [orderId, `SKU-${n % 50}`, orderId, `SKU-${n % 70}`]);
    await conn.query('COMMIT');
    await committed();
    if (n % 3 === 0) await autocommit("UPDATE shop.orders SET status = 'shipped' WHERE id = ?", [orderId - 2]);
    if (n % 10 === 0) await autocommit('DELETE FROM shop.orders WHERE id = ?', [orderId - 5]);
    if (n % 5 === 0)
      await autocommit('UPDATE contentsearchdb.metadata SET score = score + 1, tags = JSON_SET(tags, "$.edited", ?) WHERE id = ?', [
        n,
        1 + ((n * 7919) % 100000),
      ]);
    await new Promise((r) => setTimeout(r, 5));
  }
}
