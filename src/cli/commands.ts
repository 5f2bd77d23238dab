/** Every command, in the order `kubeha --help` lists them. One line per command file. */
import { lazy } from "./main.ts";

lazy(async () => (await import("./init.ts")).command);
lazy(async () => (await import("./validate.ts")).command);
lazy(async () => (await import("./render.ts")).command);
lazy(async () => (await import("./schema.ts")).command);
lazy(async () => (await import("./plan.ts")).command);
lazy(async () => (await import("./apply.ts")).command);
lazy(async () => (await import("./status.ts")).command);
lazy(async () => (await import("./drill.ts")).command);
lazy(async () => (await import("./certs.ts")).command);
lazy(async () => (await import("./lab.ts")).command);
