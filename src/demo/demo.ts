import type { Logger } from 'pino';
export async function runDemo(o: { log: Logger; metadataRows: number }): Promise<number> {
  o.log.info('demo');
  return 0;
}
