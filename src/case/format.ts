/**
 * Types of the `xgrad-case/1` format (`/work/shared/spec/case-format.md`).
 *
 * A case is plain JSON data: one named-dim graph with concrete input values. These types mirror
 * the JSON exactly (no defaults are filled in), so `parseCase(JSON.parse(writeCase(c)))`
 * deep-equals `c`. Optional fields keep their documented defaults when absent.
 *
 * This module deliberately does not import the engine's `DType`: the case format, the parser and
 * the oracles that read it are judges of the engine and must not change when the engine does.
 */

/** The only format string this version reads and writes. */
export const CASE_FORMAT = "xgrad-case/1";

/** dtypes a case may declare. `float64` is the default float. */
export type CaseDType = "float64" | "float32" | "int64" | "int32" | "bool";

/** Every dtype, in promotion-lattice order within each kind. */
export const CASE_DTYPES: readonly CaseDType[] = ["bool", "int32", "int64", "float32", "float64"];

/** An input value: a nested array in dims order, or a scalar for 0-d. Bool values are JSON booleans. */
export type CaseValue = number | boolean | CaseValue[];

/** A named-dim input. */
export interface XTensorInput {
  name: string;
  kind: "xtensor";
  dims: string[];
  shape: number[];
  dtype: CaseDType;
  value: CaseValue;
}

/** A positional input (no dims). */
export interface TensorInput {
  name: string;
  kind: "tensor";
  shape: number[];
  dtype: CaseDType;
  value: CaseValue;
}

/** One graph input with its value. */
export type CaseInput = XTensorInput | TensorInput;

/** A node argument: the name of an input or an earlier node, or a 0-d constant. */
export type CaseArg = string | number;

/** Unary elemwise ops. */
export const UNARY_OPS = [
  "neg", "exp", "log", "log1p", "expm1", "sqrt", "square", "abs",
  "sin", "cos", "tanh", "sigmoid", "softplus",
] as const;
/** Binary arithmetic elemwise ops. */
export const BINARY_OPS = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"] as const;
/** Comparisons (bool result). */
export const COMPARE_OPS = ["lt", "gt", "le", "ge", "eq", "ne"] as const;
/** Reductions taking `dims` (or `axes` for `sum` on a positional tensor). */
export const REDUCE_OPS = ["sum", "prod", "mean", "max", "min", "all", "any"] as const;
/** Every op name of `xgrad-case/1`. */
export const CASE_OPS = [
  ...UNARY_OPS, ...BINARY_OPS, ...COMPARE_OPS, "where", "cast", ...REDUCE_OPS, "var", "std",
  "cumsum", "cumprod", "dot", "transpose", "rename", "stack", "unstack", "concat",
  "expand_dims", "squeeze", "isel", "set", "inc", "values", "as_xtensor",
] as const;

export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number];
export type ReduceOp = (typeof REDUCE_OPS)[number];
/** Any op name. */
export type CaseOp = (typeof CASE_OPS)[number];

/** `[start, stop, step]` with numpy semantics; null means the default. */
export type SliceSpec = [number | null, number | null, number | null];

/**
 * One `isel`/`set`/`inc` indexer: an int (dim dropped), a slice (dim kept), or `{arg: k}`
 * naming `args[k]`, an integer xtensor input used for vectorized indexing.
 */
export type Indexer = number | { slice: SliceSpec } | { arg: number };

/** Fields shared by every node. */
interface NodeBase {
  id: string;
}

export interface UnaryNode extends NodeBase { op: UnaryOp; args: [CaseArg] }
export interface BinaryNode extends NodeBase { op: BinaryOp | CompareOp; args: [CaseArg, CaseArg] }
export interface WhereNode extends NodeBase { op: "where"; args: [CaseArg, CaseArg, CaseArg] }
export interface CastNode extends NodeBase { op: "cast"; args: [CaseArg]; dtype: CaseDType }
/** `dims` (absent or null: all) on xtensors; `axes` on positional tensors (`sum` only). */
export interface ReduceNode extends NodeBase {
  op: ReduceOp;
  args: [string];
  dims?: string[] | null;
  axes?: number[] | null;
}
export interface VarStdNode extends NodeBase {
  op: "var" | "std";
  args: [string];
  dims?: string[] | null;
  /** Delta degrees of freedom; absent means 0. */
  ddof?: number;
}
export interface CumNode extends NodeBase { op: "cumsum" | "cumprod"; args: [string]; dim: string }
/** `dims`: the contracted list, null (shared dims) or `"..."` (every dim). */
export interface DotNode extends NodeBase { op: "dot"; args: [string, string]; dims: string[] | null | "..." }
export interface TransposeNode extends NodeBase { op: "transpose"; args: [string]; dims: string[] }
export interface RenameNode extends NodeBase { op: "rename"; args: [string]; map: Record<string, string> }
export interface StackNode extends NodeBase { op: "stack"; args: [string]; dim: string; from: string[] }
export interface UnstackNode extends NodeBase { op: "unstack"; args: [string]; dim: string; to: [string, number][] }
export interface ConcatNode extends NodeBase { op: "concat"; args: string[]; dim: string }
export interface ExpandDimsNode extends NodeBase {
  op: "expand_dims";
  args: [string];
  dim: string;
  /** Length of the new dim; absent means 1. */
  size?: number;
}
export interface SqueezeNode extends NodeBase { op: "squeeze"; args: [string]; dims: string[] }
export interface IselNode extends NodeBase { op: "isel"; args: string[]; indexers: Record<string, Indexer> }
/** `x.isel(indexers).set(y)` / `.inc(y)`: `args` is `[x, y, ...index arrays]`. */
export interface UpdateNode extends NodeBase { op: "set" | "inc"; args: CaseArg[]; indexers: Record<string, Indexer> }
export interface ValuesNode extends NodeBase { op: "values"; args: [string] }
export interface AsXTensorNode extends NodeBase { op: "as_xtensor"; args: [string]; dims: string[] }

/** One graph node. Discriminated by `op`. */
export type CaseNode =
  | UnaryNode | BinaryNode | WhereNode | CastNode | ReduceNode | VarStdNode | CumNode | DotNode
  | TransposeNode | RenameNode | StackNode | UnstackNode | ConcatNode | ExpandDimsNode
  | SqueezeNode | IselNode | UpdateNode | ValuesNode | AsXTensorNode;

/** A whole case, as written in JSON. */
export interface Case {
  format: typeof CASE_FORMAT;
  name?: string;
  inputs: CaseInput[];
  nodes: CaseNode[];
  /** Id of a 0-d float node. */
  cost: string;
  /** Float inputs to differentiate with respect to; absent means every float input. */
  wrt?: string[];
}

/** The static type of one input or node, as inferred by the validator. */
export interface VarType {
  kind: "xtensor" | "tensor";
  /** Present exactly for xtensors. */
  dims?: string[];
  shape: number[];
  dtype: CaseDType;
}

/** Every input's and node's static type, keyed by name/id (a Map: names are user data). */
export type CaseTypes = ReadonlyMap<string, VarType>;

/** True for float32 and float64. */
export function isFloatDtype(d: CaseDType): boolean {
  return d === "float32" || d === "float64";
}

/** True for int32 and int64. */
export function isIntDtype(d: CaseDType): boolean {
  return d === "int32" || d === "int64";
}

/** A case value (nested arrays in dims order, or a scalar for 0-d) from flat C-order data. */
export function nestValue(data: readonly (number | boolean)[], shape: readonly number[]): CaseValue {
  let k = 0;
  const build = (d: number): CaseValue => (d === shape.length ? data[k++] : Array.from({ length: shape[d] }, () => build(d + 1)));
  return build(0);
}
