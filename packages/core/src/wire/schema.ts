import type { OptionRule } from '@socketkit/config';
import { ErrorCode, MessageError } from '@socketkit/protocol';

/**
 * The Standard Schema interface (https://standardschema.dev, v1), which
 * valibot (≥ 1.0), zod (≥ 3.24) and arktype implement: the `schema` option
 * takes any of them. Declared here (as the spec recommends) so that no
 * schema library is a dependency.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly '~standard': StandardSchemaV1.Props<Input, Output>;
}

/** Types of the {@link StandardSchemaV1} interface. */
export declare namespace StandardSchemaV1 {
  /** The `~standard` property. */
  export interface Props<Input = unknown, Output = Input> {
    /** The version of the Standard Schema interface. */
    readonly version: 1;
    /** The library that made the schema (`valibot`, `zod`, ...). */
    readonly vendor: string;
    /** Validates a value (socketkit requires a synchronous result). */
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    /** The input and output types (type-level only). */
    readonly types?: Types<Input, Output> | undefined;
  }
  /** A validation result. */
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  /** The value is valid; `value` is the schema's output (after transforms). */
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  /** The value is invalid. */
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  /** One problem found. */
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  /** A path segment with its key. */
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  /** The input and output types (type-level only). */
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
  /** The output type of a schema. */
  export type InferOutput<S extends StandardSchemaV1> = NonNullable<S['~standard']['types']>['output'];
}

/**
 * The constraint of socketkit's payload type parameters: an object type
 * (an interface or a type alias; it travels as a msgpack map). Written as
 * `Record<keyof T, unknown>` rather than `MessageData`, so an `interface`
 * without an index signature qualifies.
 */
export type Payload<T> = Record<keyof T, unknown>;

/** True for an object (or function: arktype) with a Standard Schema `~standard.validate`. */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const props = (value as { '~standard'?: { validate?: unknown } })['~standard'];
  return props !== null && typeof props === 'object' && typeof props.validate === 'function';
}

/** `percent`, `items[2].name`: a Standard Schema issue path as text. */
function pathText(path: StandardSchemaV1.Issue['path']): string {
  if (path === undefined || path.length === 0) return '';
  let out = '';
  for (const seg of path) {
    const key = typeof seg === 'object' && seg !== null ? (seg as StandardSchemaV1.PathSegment).key : seg;
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** The most issues named in one error message (the rest are counted). */
const MAX_ISSUES_SHOWN = 3;

/**
 * Runs `schema` over a message's `data`, synchronously.
 * @returns `{ value }` (the schema's output), or `{ error }`: a MessageError
 *   `INVALID_MESSAGE` naming each issue with its path, e.g.
 *   `data of "progress" does not match the schema: percent: Invalid type: Expected number but received "x"`.
 */
export function validateData(
  schema: StandardSchemaV1,
  data: unknown,
  eventName: string,
): { value: unknown; error?: undefined } | { error: MessageError } {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema['~standard'].validate(data);
  } catch (cause) {
    return {
      error: new MessageError(
        ErrorCode.INVALID_MESSAGE,
        `data of "${eventName}": the schema threw ${(cause as Error)?.message ?? String(cause)}`,
        {
          cause,
          details: { eventName },
        },
      ),
    };
  }
  if (result instanceof Promise) {
    result.catch(() => undefined);
    return {
      error: new MessageError(
        ErrorCode.INVALID_MESSAGE,
        `data of "${eventName}": the schema is asynchronous (it returned a Promise); messages are checked ` +
          `synchronously, in order: use a synchronous schema`,
        { details: { eventName } },
      ),
    };
  }
  if (result.issues === undefined) return { value: result.value };
  const issues = result.issues.map((i) => {
    const p = pathText(i.path);
    return p === '' ? i.message : `${p}: ${i.message}`;
  });
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).join('; ');
  const more = issues.length > MAX_ISSUES_SHOWN ? ` (and ${issues.length - MAX_ISSUES_SHOWN} more)` : '';
  return {
    error: new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `data of "${eventName}" does not match the schema, message skipped: ${shown}${more}`,
      {
        details: { eventName, issues: result.issues.map((i) => ({ message: i.message, path: pathText(i.path) })) },
      },
    ),
  };
}

/** The option rule of every `schema` option (client and server). */
export const SCHEMA_RULE: OptionRule = {
  expected: 'a Standard Schema (a valibot, zod or arktype schema: an object with a ~standard.validate function)',
  test: isStandardSchema,
};
