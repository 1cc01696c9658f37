select sku, product_name, price, in_stock
from {{ ref('products') }}
