// A run's params form, generated from the task's `paramsSchema` (JSON Schema): one control per
// property, by its type (string, number, integer, boolean, enum; arrays and objects as JSON), with
// the schema's defaults filled in and its required properties marked. The API validates the params;
// this form only turns what was typed into JSON values. Controls are named `<base>.<property>`
// (`params.COUNT` for a run, `config.paramMapping.COUNT` for a schedule's), as the API's problems are.
import { field, h } from "./dom.js";

function kindOf(property) {
  const type = Array.isArray(property.type) ? property.type.find((t) => t !== "null") : property.type;
  if (Array.isArray(property.enum)) return "enum";
  return ["string", "number", "integer", "boolean", "array", "object"].includes(type) ? type : "json";
}

function controlFor(name, property, required, prefix, base) {
  const kind = kindOf(property);
  const control = { name: `${base}.${name}`, id: `${prefix}-${name}` };
  const initial = property.default;
  if (kind === "enum") {
    const options = property.enum.map((value) => h("option", { value: JSON.stringify(value), selected: value === initial }, String(value)));
    return h("select", control, required || initial !== undefined ? null : h("option", { value: "" }, "—"), options);
  }
  if (kind === "boolean") return h("input", { ...control, type: "checkbox", checked: initial === true });
  if (kind === "number" || kind === "integer") {
    return h("input", { ...control, type: "number", step: kind === "integer" ? "1" : "any", inputmode: kind === "integer" ? "numeric" : "decimal",
      min: property.minimum, max: property.maximum, value: initial === undefined ? "" : String(initial) });
  }
  if (kind === "string") {
    const long = (property.maxLength ?? 0) > 200 || property.format === "textarea";
    const attributes = { ...control, autocomplete: "off", value: initial ?? "", placeholder: property.examples?.[0] };
    return long ? h("textarea", { ...attributes, rows: 3 }, initial ?? "") : h("input", attributes);
  }
  return h("textarea", { ...control, rows: 3, spellcheck: "false", placeholder: kind === "array" ? "[ ]" : "{ }" },
    initial === undefined ? "" : JSON.stringify(initial, null, 2));
}

/** `{element, read()}`; `read()` gives the params or throws `{details}` naming the fields it could not read. */
export function paramsForm(schema, prefix = "param", base = "params") {
  const properties = schema && typeof schema === "object" ? schema.properties ?? {} : {};
  const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
  const entries = Object.entries(properties).map(([name, property]) => {
    const prop = property && typeof property === "object" ? property : {};
    const control = controlFor(name, prop, required.has(name), prefix, base);
    if (required.has(name)) control.setAttribute("aria-required", "true");
    const label = `${prop.title ?? name}${required.has(name) ? " (required)" : ""}`;
    const defaultHint = prop.default !== undefined && kindOf(prop) !== "boolean" ? `Default: ${JSON.stringify(prop.default)}.` : "";
    const hint = [prop.description, defaultHint].filter(Boolean).join(" ");
    return { name, prop, control, element: field(label, control, hint || null) };
  });
  const read = () => {
    const params = {};
    const problems = [];
    for (const { name, prop, control } of entries) {
      const kind = kindOf(prop);
      if (kind === "boolean") {
        // Left as it came (unticked, no default): let the schema's default, if any, apply.
        if (control.checked || prop.default !== undefined || required.has(name)) params[name] = control.checked;
        continue;
      }
      const raw = control.value;
      if (raw.trim() === "") continue; // absent: the API fills the default or says it is required
      if (kind === "enum") params[name] = JSON.parse(raw);
      else if (kind === "number" || kind === "integer") {
        const value = Number(raw);
        if (Number.isNaN(value)) problems.push({ field: `${base}.${name}`, problem: "must be a number" });
        else params[name] = value;
      } else if (kind === "string") params[name] = raw;
      else {
        try {
          params[name] = JSON.parse(raw);
        } catch {
          problems.push({ field: `${base}.${name}`, problem: "is not valid JSON" });
        }
      }
    }
    if (problems.length) throw Object.assign(new Error("invalid params"), { details: problems });
    return params;
  };
  return { element: h("div", { class: "field-group" }, entries.map((e) => e.element)), read, empty: entries.length === 0 };
}
