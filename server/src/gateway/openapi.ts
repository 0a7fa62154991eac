import { API_ROUTES, type ApiRoute } from './routes.js';
import { errorBody, healthResponse } from './schemas.js';

interface Operation {
  summary: string;
  security?: object[];
  parameters?: object[];
  requestBody?: object;
  responses: Record<string, object>;
}

const ERRORS: Record<string, string> = {
  '400': 'Bad input (field named in the message); malformed JSON; unknown field',
  '401': 'Missing or invalid bearer token',
  '403': 'Client address not on ADMIN_IP_ALLOWLIST',
  '404': 'Unknown user, policy or route',
  '413': 'Body over the size limit',
  '415': 'A body that is not application/json',
  '429': 'An answer too large for the store or gRPC to carry, or another exhausted resource',
  '501': 'Not implemented by this Floodgate version',
  '503': 'Floodgate or its store is unreachable',
};

const json = (schema: object) => ({ 'application/json': { schema } });
const errorRef = { $ref: '#/components/schemas/Error' };

function parameters(where: 'path' | 'query', schema: object | undefined): object[] {
  const s = schema as { properties?: Record<string, { description?: string }>; required?: string[] } | undefined;
  return Object.entries(s?.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (s?.required ?? []).includes(name),
    description: prop.description,
    schema: prop,
  }));
}

function operation(r: ApiRoute): Operation {
  const errors = Object.entries(ERRORS).filter(([code]) => (code === '413' || code === '415' ? r.body : code !== '403' || r.access === 'admin'));
  return {
    summary: r.summary,
    security: r.access === 'none' ? [] : [{ bearer: [] }],
    parameters: [...parameters('path', r.params), ...parameters('query', r.query)],
    ...(r.body ? { requestBody: { required: 'required' in r.body, content: json(r.body) } } : {}),
    responses: {
      '200': { description: 'OK', content: json(r.response) },
      ...Object.fromEntries(errors.map(([code, description]) => [code, { description, content: json(errorRef) }])),
    },
  };
}

const plain = (summary: string, description: string, contentType = 'application/json', schema: object = healthResponse): Operation => ({
  summary,
  security: [],
  responses: { '200': { description, content: { [contentType]: { schema } } } },
});

/** The OpenAPI 3.1 document of every gateway route, built from the same schemas that validate. */
export function openApiDocument(version: string): object {
  const paths: Record<string, Record<string, Operation>> = {};
  const add = (url: string, method: string, op: Operation) => {
    const path = url.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[method.toLowerCase()] = op;
  };
  for (const r of API_ROUTES) add(r.url, r.method, operation(r));
  add('/healthz', 'GET', plain('The gateway process is alive', 'Alive'));
  add('/readyz', 'GET', {
    ...plain('Floodgate answers gRPC health SERVING', 'Ready'),
    responses: { '200': { description: 'Ready', content: json(healthResponse) }, '503': { description: 'Not ready', content: json(errorRef) } },
  });
  add('/metrics', 'GET', plain('Prometheus metrics (text exposition format)', 'Metrics', 'text/plain', { type: 'string' }));
  add('/openapi.json', 'GET', plain('This document', 'OpenAPI 3.1 document', 'application/json', { type: 'object' }));
  return {
    openapi: '3.1.0',
    info: {
      title: 'Floodgate admin gateway',
      version,
      description:
        'HTTP access to Floodgate for admins and dashboards. Every error has the body {"error":{"code","message","requestId"}} ' +
        'and every response an x-request-id header.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from ADMIN_TOKENS' } },
      schemas: { Error: errorBody },
    },
    paths,
  };
}
