/**
 * Error classes. Every error a user can cause by bad input (a malformed case, an unknown dim,
 * a shape mismatch, bad runtime data) is an `XgradError`: the CLI prints its message on one
 * line, with no stack trace. Anything else escaping is a bug in xgrad and is reported as such.
 */

/** Base class for user-facing errors. */
export class XgradError extends Error {
  override name = "XgradError";
}

/** Bad static input to an op builder: wrong types, shapes, dims or parameters. */
export class OpInputError extends XgradError {
  override name = "OpInputError";
}

/** Bad runtime data: a wrong shape or dtype for an input, a ragged array, an out-of-range index. */
export class DataError extends XgradError {
  override name = "DataError";
}

/** A graph operation that cannot be carried out (a missing input, a replacement of the wrong type). */
export class GraphError extends XgradError {
  override name = "GraphError";
}

/** A FunctionGraph or feature invariant that does not hold: a bug in a rewrite or a feature. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

/** A replacement the DestroyHandler (or another validator) rejects. */
export class InconsistencyError extends Error {
  override name = "InconsistencyError";
}

/** A gradient request that cannot be satisfied (disconnected or undefined input). */
export class GradError extends XgradError {
  override name = "GradError";
}
