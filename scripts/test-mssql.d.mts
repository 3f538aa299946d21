export declare const COMPOSE_SA_PASSWORD: string;
export declare function mssqlTestUrl(env?: Record<string, string | undefined>): string;
