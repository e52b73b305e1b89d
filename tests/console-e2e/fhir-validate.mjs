// Validates a FHIR R4 resource (the console's record export is a Bundle) against the R4
// structure definitions and value sets shipped with the `fhir` package (FHIR.js): required
// elements, cardinality, primitive formats, required code bindings, reference target types,
// and (errorOnUnexpected) any property R4 does not define. It does not evaluate FHIRPath
// invariants. Usage:
//
//   import { validateBundle } from "./fhir-validate.mjs";
//   const errors = validateBundle(JSON.parse(text)); // [] when valid
import fhirPackage from "fhir";

const { Fhir } = fhirPackage;

let fhir;

/**
 * Validates `obj` (a parsed FHIR R4 resource, usually a Bundle).
 * Returns one message per problem, `"<location>: <message>"`, empty when the resource is
 * valid. Warnings (codes outside extensible bindings, for example) are left out unless
 * `includeWarnings` is set.
 */
export function validateBundle(obj, { includeWarnings = false } = {}) {
  fhir ??= new Fhir(); // R4 by default; parsing the definitions once is the slow part.
  const result = fhir.validate(obj, { errorOnUnexpected: true });
  return result.messages
    .filter((m) => includeWarnings || m.severity === "error" || m.severity === "fatal")
    .map((m) => `${m.severity} ${m.location || "(root)"}: ${m.message}`);
}
