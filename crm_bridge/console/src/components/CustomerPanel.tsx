// The customer 360 view: tier, lifecycle, points, value, open tickets, last orders.
import type { Customer360, CustomerHit } from "../api/types";
import { CustomerLink } from "./CustomerLink";
import { useI18n } from "../i18n";
import { formatDate, formatMoney, formatNumber } from "../state/format";

interface Props {
  customer: Customer360 | null;
  onSearch: (q: string) => Promise<CustomerHit[] | null>;
  onLink: (customerId: number) => void;
}

export function CustomerPanel({ customer, onSearch, onLink }: Props) {
  const { t, label, locale } = useI18n();
  return (
    <section class="panel" data-testid="customer-panel">
      <h3>{t("customerTitle")}</h3>
      {!customer ? (
        <>
          <p class="muted">{t("customerAnonymous")}</p>
          <CustomerLink onSearch={onSearch} onLink={onLink} />
        </>
      ) : (
        <>
          <p class="panel-name">{customer.name ?? `#${customer.id}`}</p>
          <dl class="facts">
            <dt>{t("customerTier")}</dt>
            <dd data-testid="customer-tier">
              <span class={`badge tier tier-${customer.tier ?? "none"}`}>{label("tier", customer.tier)}</span>
            </dd>
            <dt>{t("customerLifecycle")}</dt>
            <dd>{label("lifecycle", customer.lifecycle_stage)}</dd>
            <dt>{t("customerPoints")}</dt>
            <dd>{formatNumber(customer.points_balance, locale)}</dd>
            <dt>{t("customerClv")}</dt>
            <dd>{formatMoney(customer.clv, "CNY", locale)}</dd>
            <dt>{t("customerOpenTickets")}</dt>
            <dd>{formatNumber(customer.open_tickets, locale)}</dd>
          </dl>
          <h4>{t("customerLastOrders")}</h4>
          {customer.last_orders?.length ? (
            <table class="orders">
              <thead>
                <tr>
                  <th>{t("orderNumber")}</th>
                  <th>{t("orderStatus")}</th>
                  <th class="num">{t("orderAmount")}</th>
                  <th>{t("orderDate")}</th>
                </tr>
              </thead>
              <tbody>
                {customer.last_orders.map((order) => (
                  <tr key={order.number}>
                    <td>{order.number}</td>
                    <td>{order.status}</td>
                    <td class="num">{formatMoney(order.amount, order.currency, locale)}</td>
                    <td>{formatDate(order.placed_at, locale)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">{t("customerNoOrders")}</p>
          )}
        </>
      )}
    </section>
  );
}
