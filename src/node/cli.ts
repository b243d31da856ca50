// `npx weblm <command>`: the command line. Each command lives in its own module.
export {};
const commands: Record<string, () => Promise<{ main(argv: string[]): Promise<number> }>> = {
  run: () => import('./cliRun.js'),
  convert: () => import('./cliConvert.js'),
  bench: () => import('./cliBench.js'),
};

const [name, ...argv] = process.argv.slice(2);
const load = name ? commands[name] : undefined;
if (!load) {
  console.error(`usage: weblm <${Object.keys(commands).join('|')}> [options]`);
  process.exit(2);
}
load()
  .then((m) => m.main(argv))
  .then((code) => process.exit(code))
  .catch((err: Error) => {
    console.error(`weblm ${name}: ${err.name}: ${err.message}`);
    process.exit(1);
  });
