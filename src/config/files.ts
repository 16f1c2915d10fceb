import { accessSync, constants, statSync } from 'node:fs';
import { ConfigError } from '../errors/index.js';
import type { Config } from './schema.js';

/**
 * The files a config names, checked before anything starts (`ckawatch run` and `config
 * check`): a missing model used to pass `config check`, then make `run` die with
 * "internal error" and a stack. One line per problem, in the config error format:
 *
 *   config error at model.path: a readable file; found nothing at /models/m.onnx
 *
 * Only existence and readability: whether the bytes make a model or a reference is for
 * the loaders, which say so in their own errors.
 */
export function checkFiles(config: Config): void {
  const problems: string[] = [];
  const need = (field: string, path: string | undefined, folderToo = false): void => {
    if (path === undefined) return;
    let what: string;
    try {
      const stat = statSync(path);
      if (stat.isDirectory() && !folderToo) {
        problems.push(`config error at ${field}: a readable file; found a folder at ${path}`);
        return;
      }
      accessSync(path, constants.R_OK);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      what = code === 'ENOENT' ? 'nothing' : code === 'EACCES' ? 'a file this user cannot read' : `an error (${code ?? String(error)})`;
    }
    problems.push(`config error at ${field}: a readable ${folderToo ? 'file or folder' : 'file'}; found ${what} at ${path}`);
  };
  need('model.path', config.model.path);
  need('candidate.path', config.candidate?.path);
  // A folder of images or a text file list is a reference too (decode/reference.ts).
  need('reference.path', config.reference.path, true);
  need('input.text.tokenizer', config.input.text?.tokenizer);
  need('input.text.tokenizerConfig', config.input.text?.tokenizerConfig);
  need('metrics.tls.cert', config.metrics.tls?.cert);
  need('metrics.tls.key', config.metrics.tls?.key);
  if (config.source.kind === 'kafka') {
    need('source.ssl.ca', config.source.ssl?.ca);
    need('source.ssl.cert', config.source.ssl?.cert);
    need('source.ssl.key', config.source.ssl?.key);
  }
  if (config.source.kind === 'file') need('source.path', config.source.path);
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}
