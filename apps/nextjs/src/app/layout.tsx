import type { ReactNode } from 'react';
import { policy } from '~/server/api/root';
import { TRPCReactProvider } from '~/trpc/react';
import './styles.css';

export const metadata = { title: 'trpc-memory × Next.js' };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        {/* The policy is plain JSON: it reaches the browser's mirrorServerTtl as a prop. */}
        <TRPCReactProvider policy={policy}>{children}</TRPCReactProvider>
      </body>
    </html>
  );
}
