export async function main(_argv: string[]): Promise<number> {
  throw new Error('weblm run: not built yet');
}
