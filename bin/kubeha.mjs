#!/usr/bin/env node
// The kubeha CLI: runs the compiled JavaScript in dist/ (`npm run build` makes it in a checkout;
// the npm package ships it). No TypeScript loader at run time.
import { main } from "../dist/cli/main.js";
process.exitCode = await main(process.argv.slice(2));
