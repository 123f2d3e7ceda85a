import { StatusBar } from 'expo-status-bar'
import { fetch } from 'expo/fetch'
import { AppState, StyleSheet, Text, View } from 'react-native'
import { fetchTokenFrom, TokenProvider, useEventStream, useToken } from 'use-event-stream'
import { createReactNativePlatform } from 'use-event-stream/react-native'

// The project's reference server (`npm run server` at the repository root). 10.0.2.2 is the
// development machine as seen from the Android emulator; set EXPO_PUBLIC_SERVER_URL for a device.
const SERVER = process.env.EXPO_PUBLIC_SERVER_URL ?? 'http://10.0.2.2:8787'

// `expo/fetch` streams response bodies (React Native's own fetch buffers them): the fetch
// transport reads the event stream through `response.body.getReader()`. Made once: the platform
// subscribes to AppState only while a stream listens.
const platform = createReactNativePlatform({ AppState, fetch })

// The reference server hands tokens to this demo key; a real app authenticates its user instead.
const fetchToken = fetchTokenFrom(`${SERVER}/auth/sse-token?ttl=20`, { fetch, headers: { 'x-api-key': 'demo-api-key' } })

type Tick = { seq: number; price: number }

export default function App() {
  return (
    <TokenProvider fetchToken={fetchToken} platform={platform}>
      <Ticker />
    </TokenProvider>
  )
}

function Ticker() {
  const { status, data, error } = useEventStream(`${SERVER}/stream?channel=ticker`, {
    platform,
    events: ['tick'],
    parse: (text) => JSON.parse(text) as Tick,
    // Thirty seconds in the background closes the connection; back in the foreground it resumes
    // from the last event id.
    pauseWhenHidden: 30_000,
  })
  const token = useToken()
  return (
    <View style={styles.container}>
      <Text>use-event-stream on {platform.EventSource ? 'EventSource' : 'fetch'}</Text>
      <Text>stream: {status}</Text>
      <Text>tick: {data ? `#${data.seq} ${data.price}` : '…'}</Text>
      <Text>token: {token.status}</Text>
      {status === 'failed' ? <Text>failed: {error.message}</Text> : null}
      <StatusBar style="auto" />
    </View>
  )
}

const styles = StyleSheet.create({
  container: { flex: 1, backgroundColor: '#fff', alignItems: 'center', justifyContent: 'center' },
})
