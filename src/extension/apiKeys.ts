// API keys of served models live in VS Code's SecretStorage, never in a file: one per server address, handed to the
// run worker over IPC when a run starts. Without one, the engine reads the environment variable star.json names.
import * as vscode from 'vscode';
import { openaiSettings } from '../engine/generators/openai';
import { loadProjectConfig } from '../engine/project';

export class ApiKeys {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  private static id(baseUrl: string): string {
    return `starStudio.apiKey:${baseUrl}`;
  }

  get(baseUrl: string): Thenable<string | undefined> {
    return this.secrets.get(ApiKeys.id(baseUrl));
  }

  set(baseUrl: string, key: string): Thenable<void> {
    return key ? this.secrets.store(ApiKeys.id(baseUrl), key) : this.secrets.delete(ApiKeys.id(baseUrl));
  }

  /** The server address of a project that generates through an OpenAI-compatible server, else undefined. */
  static serverOf(projectDir: string): string | undefined {
    const c = loadProjectConfig(projectDir);
    return c.model.backend === 'openai' ? openaiSettings(c.model).baseUrl : undefined;
  }

  /** The stored key for a project's server, if it has one. */
  async forProject(projectDir: string): Promise<string | undefined> {
    const server = ApiKeys.serverOf(projectDir);
    return server ? this.get(server) : undefined;
  }
}
