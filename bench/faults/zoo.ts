/** Every fault of the zoo, by id. */
import type { Fault } from "./types.js";
import f01 from "./01-rename-mapping.js";
import f02 from "./02-min-max-rule.js";
import f03 from "./03-no-accumulation.js";
import f04 from "./04-nested-rewrite-live-graph.js";
import f05 from "./05-merge-guard.js";
import f06 from "./06-destroy-reader-ordering.js";
import f07 from "./07-max-tie-split.js";
import f08 from "./08-cumsum-not-reversed.js";
import f09 from "./09-stack-input-order.js";
import f10 from "./10-dot-y-dims-first.js";
import f11 from "./11-concat-offset.js";
import f12 from "./12-adv-inc-sets.js";
import f13 from "./13-cotangent-by-position.js";
import f14 from "./14-std-ddof.js";
import f15 from "./15-broadcast-not-summed.js";
import f16 from "./16-mul-zero-float.js";
import f17 from "./17-reshape-drops-len1.js";

export const FAULTS: readonly Fault[] = [f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11, f12, f13, f14, f15, f16, f17];
