// `npx weblm`: the command line (issue 4 adds `run`, issue 6 adds `convert`).
const [command] = process.argv.slice(2);
console.error(`weblm: unknown command ${command ?? '(none)'}. Commands: run, convert`);
process.exit(2);
