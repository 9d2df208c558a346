export { healthOf, worst, HEALTH_STATUSES, type Health, type HealthStatus } from './health.js';
