/**
 * The full compilation pipeline: importing this module registers every pass in `optdb`.
 *
 * Passes register themselves as a side effect of loading their module (the database is
 * populated by many files, each beside its rules), so something must load them all before a
 * query runs; `compile` imports this file. `db.js` itself registers merge1, merge2 and the
 * canonicalize/stabilize/specialize groups that the rule modules fill.
 */
import "./db.js";
import "./canonicalize.js";
import "./stabilize.js";
import "./specialize.js";
import "./fusion.js";
import "./inplace.js";
import "../xtensor/lower.js";
import "../grad/lazy.js";
