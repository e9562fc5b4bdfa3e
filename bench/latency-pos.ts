/**
 * The POS of the latency benchmark, in its own process as a real POS is: rings up
 * `count` sales at `rate` per second into `path` and prints one JSON line per sale
 * with its order number, status and the time its transaction committed (epoch ms).
 *
 *   node --import tsx bench/latency-pos.ts <path> <rate> <count>
 */
import { PosSimulator } from '../src/agent/simulator.js';

const [path, rateText, countText] = process.argv.slice(2);
const rate = Number(rateText);
const count = Number(countText);
if (!path || !(rate > 0) || !(count > 0)) {
  process.stderr.write('usage: latency-pos.ts <path> <rate> <count>\n');
  process.exit(2);
}
const sim = new PosSimulator(path, { seed: 42 });
const epochNow = () => performance.timeOrigin + performance.now();
void sim
  .run({
    ratePerSecond: rate,
    count,
    onSale: (s) => process.stdout.write(`${JSON.stringify({ orderNumber: s.orderNumber, status: s.status, committedAt: epochNow() })}\n`),
  })
  .then(
    () => {
      sim.close();
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
