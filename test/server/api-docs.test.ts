/**
 * The OpenAPI document a started central serves (/api-docs/json): every route says what
 * it does, who may call it and its main errors, and the operational routes /healthz and
 * /metrics are in it with their answers' shapes (JSON and Prometheus text).
 */
import { describe, expect, it } from 'vitest';
import { ROUTE_DOCS } from '../../src/server/api-docs.js';
import { ApiClient, useCentral } from '../helpers/central.js';

const c = useCentral();

interface Operation {
  summary?: string;
  description?: string;
  security?: unknown[];
  responses: Record<string, { description?: string; content?: Record<string, { schema?: { type?: string; properties?: Record<string, unknown>; required?: string[] } }> }>;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
}

async function openapi(): Promise<Doc> {
  const r = await new ApiClient(c.url, undefined).get('/api-docs/json');
  expect(r.status, r.text).toBe(200);
  return r.body as Doc;
}

const operations = (doc: Doc) => Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));

describe('the OpenAPI document', () => {
  it('gives every operation a summary and a description; an /api operation says who may call it and which errors it answers', async () => {
    const doc = await openapi();
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThanOrEqual(Object.keys(ROUTE_DOCS).length);
    // Every gap at once (a route added without its documentation names itself).
    const gaps: string[] = [];
    for (const { path, method, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`;
      if (!op.summary?.trim()) gaps.push(`${name}: no summary`);
      if (!op.description?.trim()) gaps.push(`${name}: no description`);
      else if (path.startsWith('/api/') && !/admin token|terminal key/i.test(op.description)) gaps.push(`${name}: does not say who may call it`);
      else if (path.startsWith('/api/') && !/\b4\d\d\b/.test(op.description)) gaps.push(`${name}: names no error`);
    }
    expect(gaps).toEqual([]);
    // Every documented route exists (a route renamed without its doc would leave it behind).
    const declared = new Set(ops.map(({ path, method }) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
    for (const key of Object.keys(ROUTE_DOCS)) expect(declared.has(key), `${key} is in the document`).toBe(true);
  });

  it('describes a pushed change\'s row images as JSON objects', async () => {
    const doc = (await openapi()) as unknown as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: unknown }> } }>> };
    type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; additionalProperties?: unknown; anyOf?: Schema[] };
    const body = doc.paths['/api/sync/push']?.post?.requestBody?.content?.['application/json']?.schema as Schema | undefined;
    const change = body?.properties?.changes?.items;
    expect(change?.properties?.data).toEqual({ type: 'object', additionalProperties: {} });
    // Nullable: an object or null.
    expect(JSON.stringify(change?.properties?.baseData)).toContain('"type":"object"');
  });

  it('documents GET /healthz (JSON status and database) and GET /metrics (Prometheus text), and they answer as documented', async () => {
    const doc = await openapi();
    const health = doc.paths['/healthz']?.get;
    expect(health, 'GET /healthz').toBeDefined();
    expect(health?.description).toMatch(/no credentials/i);
    const healthSchema = health?.responses['200']?.content?.['application/json']?.schema;
    expect(Object.keys(healthSchema?.properties ?? {}).sort()).toEqual(['database', 'status']);
    // Liveness does not ask the database (GET /readyz does: test/server/readiness.test.ts).
    expect(health?.responses['500'], 'no database error from liveness').toBeUndefined();

    const metrics = doc.paths['/metrics']?.get;
    expect(metrics, 'GET /metrics').toBeDefined();
    expect(metrics?.description).toMatch(/Prometheus text/);
    const content = metrics?.responses['200']?.content ?? {};
    expect(Object.keys(content)).toHaveLength(1);
    const [type, media] = Object.entries(content)[0] ?? [];
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(media?.schema?.type).toBe('string');

    // What they answer matches what the document says.
    const anonymous = new ApiClient(c.url, undefined);
    const h = await anonymous.get('/healthz');
    expect(h.status, h.text).toBe(200);
    expect(h.body).toEqual({ status: 'ok', database: c.db.kind });
    const m = await fetch(`${c.url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toBe(type);
    expect(await m.text()).toMatch(/^# HELP tillsync_/m);
  });
});
