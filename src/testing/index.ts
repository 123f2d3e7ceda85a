export { createMockTransport, type MockConnection, type MockTransport } from './mockTransport'
