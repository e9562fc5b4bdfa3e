import { STATUS_CODES } from 'node:http';
import { clip } from '../shared/excerpt.js';

/** One problem of a refused request: where (`body.changes.0.entityType`) and what. */
export interface ErrorDetail {
  readonly path: string;
  readonly message: string;
}

/** An error that becomes an HTTP response with a stable code and a clear message. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** CENTRAL_RESTORED: central's restore generation now. */
    readonly epoch?: number,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const unauthorized = (message: string) => new HttpError(401, 'UNAUTHORIZED', message);
export const forbidden = (code: string, message: string) => new HttpError(403, code, message);
export const notFound = (code: string, message: string) => new HttpError(404, code, message);
export const conflict = (code: string, message: string) => new HttpError(409, code, message);

/**
 * How much an error answer may say. Messages quote the client's input (an unknown key,
 * a path through a record, a database's complaint about a value), so each part is cut:
 * a 2 MB mistake gets a short answer, never a bigger one.
 */
export const ERROR_LIMITS = {
  /** Characters of the top-level message. */
  message: 1000,
  /** Problems listed in `details` (the message says how many more there were). */
  details: 10,
  /** Characters of a detail's path and of its message. */
  path: 200,
  detailMessage: 400,
  code: 64,
} as const;

/** The documented shape of every error answer (`ErrorResponse` in src/shared/protocol.ts). */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: ErrorDetail[];
  epoch?: number;
}

export function httpReason(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** An error answer in the documented shape, every part cut to ERROR_LIMITS. */
export function errorBody(statusCode: number, code: string, message: string, details?: readonly ErrorDetail[], epoch?: number): ErrorBody {
  const body: ErrorBody = {
    statusCode,
    error: httpReason(statusCode),
    code: clip(code, ERROR_LIMITS.code),
    message: clip(message, ERROR_LIMITS.message),
  };
  if (details && details.length > 0) body.details = details.slice(0, ERROR_LIMITS.details).map(clipDetail);
  if (epoch !== undefined) body.epoch = epoch;
  return body;
}

function clipDetail(d: ErrorDetail): ErrorDetail {
  return { path: clip(d.path, ERROR_LIMITS.path), message: clip(d.message, ERROR_LIMITS.detailMessage) };
}

/** A validation failure: the first problems in the message and in `details`, and how many more there were. */
export function validationBody(details: readonly ErrorDetail[]): ErrorBody {
  const listed = details.slice(0, ERROR_LIMITS.details).map(clipDetail);
  const more = details.length - listed.length;
  const message = listed.map((d) => `${d.path}: ${d.message}`).join('; ') + (more > 0 ? `; and ${more} more` : '');
  return errorBody(400, 'VALIDATION_ERROR', message, listed);
}
