export { createMockTransport, type MockConnection, type MockTransport, type MockTransportOptions } from './mockTransport'
export { createMockTokens, type MockTokens, type MockTokensOptions, type MockTokenRequest } from './mockTokens'
export { createTestStream, type TestStream, type TestStreamOptions, type SettableStatus } from './testStream'
